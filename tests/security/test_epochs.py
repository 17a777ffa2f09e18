"""Pseudonym epochs through the real api, worker and PostgreSQL: a new epoch gives a user a new
pseudonym (answers spanning epochs count them once per epoch), erasure by name reaches every
epoch, and an opt-out outlives the rotation."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dream.app import Dream
from dream.security.optout import OptOuts
from dream.security.pii import Scrubber
from dream.settings import Settings
from helpers import beside_a_worker, snapshot_body, wait_for
from test_erasure import PII_KEY, ps_aux

KEY = PII_KEY.encode()


def test_each_epoch_its_own_pseudonym() -> None:
    before, after = Scrubber(key=KEY, epochs=["2025"]), Scrubber(key=KEY, epochs=["2025", "2026"])
    assert before.user("jdoe") != after.user("jdoe")
    assert after.every_epoch("JDoe") == [before.user("jdoe"), after.user("jdoe")]
    assert after.stable("jdoe") == before.stable("jdoe") == Scrubber(key=KEY).user("jdoe")
    assert after.every_epoch(after.user("jdoe") or "") == [after.user("jdoe")]  # a pseudonym


def store(url: str, data_dir: Path, epochs: list[str], *users: str) -> None:
    settings = Settings(database_url=url, data_dir=data_dir, batch_wait_s=0.05, pii_key=PII_KEY,
                        auth="off", min_group_users=1, pii_epochs=epochs)  # type: ignore[arg-type]  # fmt: skip
    dream = Dream(settings).open()
    try:
        with beside_a_worker(dream) as app, TestClient(app) as client:
            bodies = [snapshot_body(ps_aux(u, ("stata",), 1), user=u, host=f"lx-{u}")
                      for u in users]  # fmt: skip
            answered = [client.post("/v1/snapshots", json=b).json()["status"] for b in bodies]
            for body, status in zip(bodies, answered, strict=True):
                if status == "accepted":
                    wait_for(lambda b=body: client.get(f"/v1/snapshots/{b['snapshot_id']}"
                                                       ).json()["status"] == "stored")  # fmt: skip
            if epochs == ["2025", "2026"]:
                check_rotated(client, answered)
    finally:
        dream.close()


def check_rotated(client: TestClient, answered: list[str]) -> None:
    assert answered == ["accepted", "dropped"]  # gina's opt-out, taken in 2025, still holds
    users = client.get("/v1/users").json()["items"]
    assert len(users) == 2  # jdoe once per epoch: the linkage is cut
    (stata,) = client.get("/v1/analytics/top-apps").json()["items"]
    assert stata["users"] == 2
    erased = client.delete("/v1/users/jdoe").json()  # by name: every epoch's pseudonym
    assert [e["removed"]["snapshots"] for e in erased] == [1, 1]
    assert client.get("/v1/users").json()["items"] == []


def test_rotation_cuts_linkage_and_erasure_and_opt_out_reach_across(
    database_url: str, tmp_path: Path
) -> None:
    store(database_url, tmp_path, ["2025"], "jdoe")
    settings = Settings(database_url=database_url, data_dir=tmp_path, pii_key=PII_KEY,
                        pii_epochs=["2025"])  # type: ignore[arg-type]  # fmt: skip
    with Dream(settings).open(analytics=False) as dream:
        OptOuts(dream.db, dream.scrubber.stable).add("user", "gina")
    store(database_url, tmp_path, ["2025", "2026"], "jdoe", "gina")
