"""The disaster-recovery drill (``make dr-drill``, ``python scripts/dr.py drill``).

Starts both sites (scripts/dr.py), then lab machines post a steady stream to site A exactly as
``dream collect`` does (its Collector, spool and Sender, with A's and B's api urls and the spool's
grace window). Site A is killed with SIGKILL mid-stream; B is promoted and its worker (from
MirrorMaker 2's translated offsets) and api started. Before the machines go on, the drill counts
what B holds of what A acknowledged: the snapshots missing then, and the seconds of collection
they span, are the RPO without the resend. Then the machines fail over to B and re-send their
grace window. Printed: accepted by A and by B, stored in B, lost, duplicated, RPO and RTO, and
whether B's analytics equal A's for the data both hold. Exit status 1 when anything
acknowledged is lost or duplicated, or the answers differ.

``--lag S`` freezes (SIGSTOP) the mirror and A's worker for the last S seconds before the kill,
as a congested link between the sites would: what A acknowledged then is in no copy B has,
and only the machines' resend brings it over.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import psycopg

import dr
from dream.analytics.questions import QUESTIONS as REGISTRY
from dream.analytics.questions.hosts import FLEET_FIELDS, without
from dream.analytics.questions.registry import required_params
from dream.collector import LINUX_COMMAND, Collector, Sender, Spool, run_listing

# Every question of the registry, over the window both sites hold (raw rows wherever a question
# can choose: the window is not whole hours), and a few variants of the ranked ones. Not
# `sessions`: a session open at the window's end grows with later snapshots (B holds more).
# `compare` takes its two cohorts: the drill's two faculties.
_SAMPLE = {"by": "host", "bucket": "hour", "source": "raw"}
_COHORTS = {"a": "law", "b": "engineering"}
QUESTIONS = tuple(
    (q.path, required_params(q, **_COHORTS) | {
        name: _SAMPLE[name] for name, field in q.fields.items()
        if _SAMPLE.get(name) in get_args(field.annotation)})  # where the question offers it
    for q in REGISTRY
    if q.name != "sessions"
) + (
    ("/v1/analytics/top-apps", {"limit": "50", "metric": "snapshots", "source": "raw"}),
    ("/v1/analytics/breakdown", {"by": "user", "metric": "cpu", "source": "raw"}),
    ("/v1/analytics/breakdown", {"by": "faculty", "metric": "processes", "source": "raw"}),
)


@dataclass
class Ledger:
    """Which api acknowledged each snapshot first, and when; and how many posts were resends."""

    first_ack: dict[str, tuple[str, float]] = field(default_factory=dict)
    posts: int = 0
    resent: int = 0  # posts of a snapshot already acknowledged (the grace window)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sid: str, url: str) -> None:
        with self.lock:
            self.posts += 1
            self.resent += sid in self.first_ack
            self.first_ack.setdefault(sid, (url, time.time()))

    def acked_by(self, url: str) -> list[str]:
        with self.lock:
            return [sid for sid, (by, _) in self.first_ack.items() if by == url]


@dataclass
class RecordingSender(Sender):
    """The collector's own Sender; it also notes which api acknowledged what."""

    ledger: Ledger = field(default_factory=Ledger)

    def post(self, data: bytes) -> str:
        sid = super().post(data)
        self.ledger.record(sid, self.current)
        return sid


class Stream(threading.Thread):
    """Lab machines posting as `dream collect` does, round after round, until stopped."""

    def __init__(self, agents: list[Collector], round_s: float) -> None:
        super().__init__(daemon=True)
        self.agents, self.round_s = agents, round_s
        self.go = threading.Event()
        self.idle = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.go.is_set():
                self.idle.set()
                self.go.wait(0.1)
                continue
            started = time.monotonic()
            for agent in self.agents:
                agent.run_once()
            self.stop.wait(max(0.0, self.round_s - (time.monotonic() - started)))

    def pause(self) -> None:
        """Let the round in progress finish, then hold the machines."""
        self.idle.clear()
        self.go.clear()
        self.idle.wait(60)


def stored(url: str, ids: list[str]) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT snapshot_id::text FROM snapshots WHERE snapshot_id = ANY(%s)",
                            (ids,)).fetchall()  # fmt: skip
    return {row[0] for row in rows}


# A snapshot's row is unique by its key, so a snapshot stored twice shows in what the worker
# derives from it: process rows written twice (or not as many as it listed), its processes
# merged into the sessions twice (their samples then exceed the processes stored).
_TWICE = """
SELECT (SELECT count(*) FROM (
            SELECT s.snapshot_id FROM snapshots s LEFT JOIN processes p USING (snapshot_id)
            WHERE s.snapshot_id = ANY(%(ids)s)
            GROUP BY s.snapshot_id, s.process_count
            HAVING count(p.pid) <> s.process_count OR count(p.pid) <> count(DISTINCT p.pid)
        ) doubled),
       (SELECT coalesce(sum(samples), 0) FROM sessions WHERE host LIKE 'dr-lab-%%')
       - (SELECT coalesce(sum(process_count), 0) FROM snapshots
          WHERE host LIKE 'dr-lab-%%' AND status = 'stored')
"""


def duplicated(url: str, ids: list[str]) -> tuple[int, int]:
    """Acknowledged snapshots whose process rows B holds twice (or not one per process listed),
    and the samples B's sessions hold beyond the machines' processes it stored."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(_TWICE, {"ids": ids}).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def answers(api: str, start: datetime, end: datetime) -> list[Any]:
    window = {"from": start.isoformat(), "to": end.isoformat(), "include_system": "true"}
    out = []
    for path, params in QUESTIONS:
        response = httpx.get(f"{api}{path}", params=params | window, timeout=30)
        response.raise_for_status()
        body = {k: v for k, v in response.json().items() if k not in ("generated_at", "took_ms")}
        # A host's fleet health: when each site's api heard from it differs.
        out.append(without(FLEET_FIELDS, body) if path == "/v1/hosts" else body)
    return out


def b_answers_and_accepts(api: str) -> bool:
    """The site takes a post and answers a question (what RTO waits for)."""
    probe = {"snapshot_id": _uuid(), "host": "dr-probe", "os": "linux", "user": "probe",
             "faculty": "dr", "collected_at": datetime.now(UTC).isoformat(),
             "command": "ps", "output": "PID CMD\n1 init\n"}  # fmt: skip
    try:
        posted = httpx.post(f"{api}/v1/snapshots", json=probe, timeout=5)
        asked = httpx.get(f"{api}/v1/analytics/top-apps", params={"limit": "1"}, timeout=5)
    except httpx.HTTPError:
        return False
    return posted.status_code == 202 and asked.status_code == 200


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def mirrored(source: str, target: str) -> bool:
    """The target cluster's copy of the topic is as long as the source's, and the group's
    committed offsets have been translated (MirrorMaker 2 runs and is caught up)."""
    from confluent_kafka import KafkaException

    try:
        here, there = dr.group_position(source), dr.group_position(target)
    except (KafkaException, KeyError):  # the topic does not exist on the target yet
        return False
    return here["end"] > 0 and there["end"] == here["end"] and there["committed"] > 0


def run_drill(
    machines: int, before: int, during: int, after: int, round_s: float, lag_s: float, back: bool
) -> dict[str, Any]:
    state = dr.up()
    stream: Stream | None = None
    try:
        a_api, a_db, b_db = state["api_a"]["url"], state["pg_a"]["url"], state["pg_b"]["url"]
        b_kafka = state["kafka_b"]["bootstrap"]
        command, output = run_listing("linux")
        listing = (" ".join(LINUX_COMMAND), "\n".join(output.splitlines()[:60]) + "\n")
        ledger = Ledger()
        agents = [
            Collector(
                sender=RecordingSender(url=a_api, retries=0, timeout_s=5, ledger=ledger),
                spool=Spool(dr.DR / "machines" / f"m{i}"), user=f"student{i % 3}",
                faculty=("law", "engineering")[i % 2], host=f"dr-lab-{i:02d}", os_name="linux",
                listing=lambda _os: listing, interval_s=60.0, log=lambda _m: None,
            )  # fmt: skip
            for i in range(machines)
        ]
        stream = Stream(agents, round_s)
        stream.start()
        # 1. A steady stream to A; the first part is let through to B's standby, and A's
        #    answers about it are kept to compare with B's after the failover.
        started = datetime.now(UTC) - timedelta(seconds=1)
        stream.go.set()
        dr.wait_until(lambda: len(ledger.acked_by(a_api)) >= before, 180, f"{before} posts to A")
        stream.pause()
        held = ledger.acked_by(a_api)
        split = datetime.now(UTC)
        dr.wait_until(lambda: len(stored(a_db, held)) == len(held), 120, "A's worker storing")
        dr.wait_until(lambda: len(stored(b_db, held)) == len(held), 60, "B's standby replaying")
        a_kafka = state["kafka_a"]["bootstrap"]
        dr.wait_until(lambda: mirrored(a_kafka, b_kafka), 180, "MirrorMaker 2 copying the topic to B")
        a_answers = answers(a_api, started, split)
        # 2. More, and site A dies mid-stream.
        stream.go.set()
        dr.wait_until(lambda: len(ledger.acked_by(a_api)) >= len(held) + during, 180, "posts to A")
        if lag_s > 0:  # the mirror and A's worker fall behind; A still acknowledges
            for name in ("mirror", "worker_a"):
                os.killpg(state[name]["pid"], signal.SIGSTOP)
            time.sleep(lag_s)
        killed_wall, killed = time.time(), time.monotonic()
        steps = dr.failover(state)
        stream.pause()  # the machines wait while B's worker catches up: measure before resends
        b_api = state["api_b"]["url"]
        for agent in agents:  # the machines' second url is B's api, known now it has a port
            agent.sender.fallback_urls = (b_api,)
        dr.wait_until(lambda: b_answers_and_accepts(b_api), 120, "B accepting and answering")
        rto = time.monotonic() - killed
        acked_a = ledger.acked_by(a_api)
        dr.wait_until(lambda: dr.drained(b_kafka), 120, "B's worker reading the mirrored topic")
        missing = sorted(set(acked_a) - stored(b_db, acked_a))
        first_missing = min((ledger.first_ack[sid][1] for sid in missing), default=killed_wall)
        rpo = max(0.0, killed_wall - first_missing)
        # 3. The machines fail over to B, re-send their grace window, and go on.
        posts_before, resent_before = ledger.posts, ledger.resent
        stream.go.set()
        dr.wait_until(lambda: len(ledger.acked_by(b_api)) >= after, 180, f"{after} posts to B")
        stream.pause()
        stream.stop.set()
        acked = list(ledger.first_ack)
        dr.wait_until(lambda: len(stored(b_db, acked)) == len(acked), 120, "B storing what was acknowledged")
        in_b = stored(b_db, acked)
        doubled, extra_samples = duplicated(b_db, acked)
        b_answers = answers(b_api, started, split)
        figures = {
            "accepted_by_a": len(acked_a), "accepted_by_b": len(ledger.acked_by(b_api)),
            "stored_in_b": len(in_b), "lost": len(set(acked) - in_b),
            "duplicated": doubled, "extra_session_samples": extra_samples,
            "missing_before_resend": len(missing), "rpo_s": round(rpo, 2),
            "rpo_after_resend_s": 0.0 if set(acked) <= in_b else None,
            "rto_s": round(rto, 1),
            "failover_steps_s": {k: round(v, 1) for k, v in steps.items()},
            "b_group_at_promotion": state.get("translated"),
            "posts_after_failover": ledger.posts - posts_before,
            "resent_after_failover": ledger.resent - resent_before,
            "analytics_equal": a_answers == b_answers,
            "questions_compared": len(QUESTIONS),
            "questions_differing": [QUESTIONS[i][0] for i, (x, y) in
                                    enumerate(zip(a_answers, b_answers, strict=True)) if x != y],
        }  # fmt: skip
        if back:  # 4. Failback: A rejoins as B's standby, then takes over again.
            figures["failback_steps_s"] = {k: round(v, 1) for k, v in dr.failback(state).items()}
            a_api = state["api_a"]["url"]
            # A fresh api's first post and question can take seconds on a busy machine: wait
            # for them as the RTO does, rather than judge A on one attempt.
            back_at = time.monotonic()
            try:
                dr.wait_until(lambda: b_answers_and_accepts(a_api), 60, "A accepting and answering")
            except dr.DrError:
                figures["a_accepts_again"] = False
            else:
                figures["a_accepts_again"] = True
                figures["a_accepts_after_s"] = round(time.monotonic() - back_at, 1)
            figures["stored_in_a_after_failback"] = len(stored(state["pg_a"]["url"], acked))
            figures["a_answers_as_before"] = answers(a_api, started, split) == a_answers
        return figures
    finally:
        if stream is not None:
            stream.stop.set()
            stream.go.set()
            stream.join(30)
        dr.down()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dr.py drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=6)
    parser.add_argument("--before", type=int, default=120, help="posts to A let through first")
    parser.add_argument("--during", type=int, default=120, help="posts to A before the kill")
    parser.add_argument("--after", type=int, default=60, help="posts to B after the failover")
    parser.add_argument("--round", type=float, default=0.25,
                        help="seconds between two snapshots of one machine (a steady stream)")
    parser.add_argument("--lag", type=float, default=0.0,
                        help="freeze the mirror and A's worker this many seconds before the kill")
    parser.add_argument("--failback", action="store_true",
                        help="then fail back to A (pg_rewind, B → A mirror, switch) and check it")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run_drill(args.machines, args.before, args.during, args.after, args.round, args.lag,
                        args.failback)
    for name, value in figures.items():
        print(f"{name:24} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = (figures["lost"] == 0 and figures["duplicated"] == 0 and figures["analytics_equal"]
          and figures["extra_session_samples"] == 0)
    if args.failback:
        ok = ok and figures["a_accepts_again"] and figures["a_answers_as_before"] and (
            figures["stored_in_a_after_failback"] == figures["stored_in_b"])
    print("drill: PASS" if ok else "drill: FAIL")
    return 0 if ok else 1
