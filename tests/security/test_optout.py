"""Opt-out through the real api, worker, PostgreSQL and blob store: an opted-out user's (or
host's) snapshots are answered 202, dropped and counted, and leave no row in any table and no
object in the blob store; taken back, their snapshots are kept again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from dream.app import Dream
from dream.security.optout import OptOuts
from dream.storage.database import Database
from helpers import FakeClock, beside_a_worker, snapshot_body, wait_for
from test_api_security import ADMIN_TOKEN, bearer, make_dream
from test_erasure import PII_KEY, blob_text, ps_aux, stored_text


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("dream_snapshots_opted_out_total", {"reason": reason}) or 0.0


def test_an_opted_out_user_and_host_leave_no_row_and_no_object(
    database_url: str, tmp_path: Path
) -> None:
    dream: Dream = make_dream(database_url, tmp_path, rate_limits="", pii_key=PII_KEY)
    admin = bearer(ADMIN_TOKEN)
    try:
        with beside_a_worker(dream) as app, TestClient(app) as client:
            for kind, value in (("user", "Frank"), ("host", "lab-secret-7")):
                added = client.post("/v1/optouts", json={"kind": kind, "value": value},
                                    headers=admin)  # fmt: skip
                assert added.status_code == 201, added.text
            listed = {(o["kind"], o["value"]) for o in client.get("/v1/optouts",
                                                                  headers=admin).json()}  # fmt: skip
            pseudonym = dream.scrubber.stable("frank")
            assert listed == {("user", pseudonym), ("host", "lab-secret-7")}
            before = {"user": dropped("user"), "host": dropped("host")}
            frank = snapshot_body(ps_aux("frank", ("stata",), 1), user="frank", host="lab-1")
            hosted = snapshot_body(ps_aux("gina", ("spss",), 1), user="gina", host="lab-secret-7")
            kept = snapshot_body(ps_aux("gina", ("matlab",), 1), user="gina", host="lab-1")
            for body, status in ((frank, "dropped"), (hosted, "dropped"), (kept, "accepted")):
                posted = client.post("/v1/snapshots", json=body, headers=admin)
                assert posted.status_code == 202 and posted.json()["status"] == status
            wait_for(lambda: client.get(f"/v1/snapshots/{kept['snapshot_id']}", headers=admin
                                        ).json()["status"] == "stored")  # fmt: skip
            assert dropped("user") == before["user"] + 1
            assert dropped("host") == before["host"] + 1
            for body in (frank, hosted):
                assert client.get(f"/v1/snapshots/{body['snapshot_id']}",
                                  headers=admin).status_code == 404  # fmt: skip
            everything = stored_text(database_url)
            for trace in (frank["snapshot_id"], hosted["snapshot_id"], "spss", "stata"):
                assert trace not in everything, trace
            assert everything.count(pseudonym) == 1  # the opt-out itself
            assert "matlab" in blob_text(tmp_path) and "frank" not in blob_text(tmp_path)
            assert "spss" not in blob_text(tmp_path)
            gone = client.delete(f"/v1/optouts/user/{pseudonym}", headers=admin)
            assert gone.status_code == 204
            again = snapshot_body(ps_aux("frank", ("stata",), 2), user="frank", host="lab-1")
            assert client.post("/v1/snapshots", json=again,
                               headers=admin).json()["status"] == "accepted"  # fmt: skip
    finally:
        dream.close()


def test_dream_optout_and_erase_commands(database_url: str, tmp_path: Path) -> None:
    env = {"DREAM_DATABASE_URL": database_url, "DREAM_DATA_DIR": str(tmp_path),
           "DREAM_PII_KEY": PII_KEY, "PATH": "/usr/bin:/bin"}  # fmt: skip

    def dream(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "dream", *args], env=env, text=True,
                              capture_output=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    dream("optout", "add", "--user", "frank")
    dream("optout", "add", "--host", "lab-secret-7")
    listed = dream("optout", "list")
    assert "lab-secret-7" in listed and "frank" not in listed and "\tu_" in listed
    dream("optout", "remove", "--host", "lab-secret-7")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT kind FROM optouts").fetchall() == [("user",)]
    (erased,) = [json.loads(line) for line in dream("erase", "--user", "frank").splitlines()]
    assert erased["state"] == "done" and erased["removed"]["snapshots"] == 0
    (user_line,) = [line for line in listed.splitlines() if line.startswith("user\t")]
    assert erased["user"] == user_line.split("\t")[1]  # no epochs: the opt-out's pseudonym


def test_an_opt_out_through_another_replica_applies_once_the_list_is_stale(
    database_url: str,
) -> None:
    """Each replica re-reads the list in the background once it is older than its ttl."""
    db = Database(database_url)
    db.open()
    try:
        clock = FakeClock()
        replica = OptOuts(db, lambda name: name, ttl_s=10, clock=clock)
        replica.refresh()
        OptOuts(db, lambda name: name).add("host", "lab-9")  # through another replica
        replica.refresh_if_stale()
        assert replica.excludes((), "lab-9") is None  # its list is fresh: not re-read yet
        clock.advance(11)
        replica.refresh_if_stale()
        wait_for(lambda: replica.excludes((), "lab-9") == "host", what="the list re-read")
    finally:
        db.close()
