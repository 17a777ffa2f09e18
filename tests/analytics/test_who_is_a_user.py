"""Who a snapshot counts for, through the api: the owners of its non-system processes, else the
interactive user sent, never the collector's service account (docs/analytics.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dream.parsing.model import ProcessRecord
from dream.parsing.users import NOBODY, UNKNOWN, snapshot_user
from dream.settings import Settings
from helpers import direct_client, snapshot_body, wait_for

PS_AUX_AS_ROOT = """\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.1 167000 11000 ?        Ss   09:00   0:02 /sbin/init
root         412  0.0  0.1  12000  6000 ?        Ss   09:00   0:00 /usr/sbin/sshd -D
messagebus   501  0.0  0.0   9000  4000 ?        Ss   09:00   0:00 /usr/bin/dbus-daemon --system
root         900  0.1  0.2  50000 20000 ?        Ss   09:00   0:01 /usr/bin/python3 /usr/bin/dream collect
alice       2001  3.0  4.0 900000 400000 ?       Sl   09:10   1:30 /usr/lib/firefox/firefox
alice       2002  0.0  0.1  10000  5000 pts/0    Ss   09:11   0:00 -bash
alice       2003 12.0  6.0 2000000 600000 pts/0  Sl   09:12   5:00 /usr/local/MATLAB/R2024a/bin/glnxa64/MATLAB
"""

PS_AUX_IDLE = "\n".join(PS_AUX_AS_ROOT.splitlines()[:5]) + "\n"

TASKLIST = """\

Image Name                     PID Session Name        Session#    Mem Usage
========================= ======== ================ =========== ============
System Idle Process              0 Services                   0          8 K
svchost.exe                    812 Services                   0     12,000 K
explorer.exe                  4100 Console                    1     80,000 K
WINWORD.EXE                   5200 Console                    1    150,000 K
"""


@pytest.fixture
def client(database_url: str, tmp_path: Path):
    settings = Settings(database_url=database_url, data_dir=tmp_path, pii_mode="off",
                        batch_wait_s=0.05)  # fmt: skip
    with direct_client(settings) as (c, _):
        yield c


def post(client: TestClient, output: str, **fields: str) -> dict:
    body = snapshot_body(output, **fields)
    assert client.post("/v1/snapshots", json=body).status_code == 202
    return wait_for(lambda: _stored(client, body["snapshot_id"]), what="snapshot stored")


def _stored(client: TestClient, snapshot_id: str) -> dict | None:
    state = client.get(f"/v1/snapshots/{snapshot_id}").json()
    return state if state.get("status") in ("stored", "failed") else None


def users_counted(client: TestClient) -> dict[str, int]:
    answer = client.get("/v1/analytics/breakdown", params={"by": "user"})
    assert answer.status_code == 200, answer.text
    return {item["user"]: item["hosts"] for item in answer.json()["items"]}


def test_root_collected_ps_counts_the_process_owner_and_tasklist_the_interactive_user(
    client: TestClient,
) -> None:
    # `dream collect` as root on Linux: the listing's owners say who used the machine.
    state = post(client, PS_AUX_AS_ROOT, host="lin-01", user="root")
    assert state["status"] == "stored" and state["user"] == "alice"
    # A tasklist without /v names no owners: the interactive user the agent sent counts.
    post(client, TASKLIST, host="win-01", os="windows", user="bob", command="tasklist")
    # SYSTEM's machine account sent a listing without owners: nobody is counted as `PC$`.
    post(client, TASKLIST, host="win-02", os="windows", user="WIN-02$", command="tasklist")
    # Only system accounts own processes: nobody was using the machine (and no use counts).
    assert post(client, PS_AUX_IDLE, host="lin-02", user="root")["user"] == NOBODY

    counted = users_counted(client)
    assert counted == {"alice": 1, "bob": 1, UNKNOWN: 1}
    assert not {"root", "WIN-02$", "SYSTEM"} & set(counted)


@pytest.mark.parametrize(
    ("sent", "owners", "expected"),
    [
        ("root", ["root", "alice", "alice", "bob"], "alice"),  # the most non-system processes
        ("bob", ["root", "alice", "alice", "bob"], "bob"),  # the interactive one, if an owner
        ("alice", [r"LAB\alice", "NT AUTHORITY\\SYSTEM"], r"LAB\alice"),  # as the listing says
        ("SYSTEM", [], UNKNOWN),
        ("NT AUTHORITY\\NETWORK SERVICE", [], UNKNOWN),
        ("LocalService", [], UNKNOWN),
        ("LAB-PC-07$", [], UNKNOWN),
        ("alice", [], "alice"),
        (NOBODY, [], NOBODY),
        ("alice", ["root", "_windowserver"], NOBODY),
    ],
)
def test_snapshot_user_rule(sent: str, owners: list[str], expected: str) -> None:
    records = [ProcessRecord(pid=i, user=owner) for i, owner in enumerate(owners)]
    assert snapshot_user(sent, "linux", records) == expected
