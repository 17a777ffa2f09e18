#!/usr/bin/env python3
"""Two Dream sites on this machine, to rehearse disaster recovery for real.

Site A: its own Kafka (KRaft) broker, a PostgreSQL primary (wal_level=replica, a physical
replication slot), `dream api` and `dream worker`. Site B: its own broker and a PostgreSQL
streaming standby made with ``pg_basebackup -R``. MirrorMaker 2 (dedicated mode, jars from Maven
Central via scripts/mirror/pom.xml) copies ``dream.snapshots`` A → B and checkpoints the workers'
consumer group, writing its translated offsets into B's ``__consumer_offsets``. It runs with the
IdentityReplicationPolicy: the mirrored topic keeps its name, so B's api and workers use the
same DREAM_KAFKA_TOPIC as A's (the default policy would name it ``A.dream.snapshots``).

    python scripts/dr.py up        # both sites and the mirror; prints the urls
    python scripts/dr.py status    # what runs
    python scripts/dr.py failover  # SIGKILL site A, promote B, start B's worker and api
    python scripts/dr.py failback  # rewind A into B's standby, mirror B → A, switch back to A
    python scripts/dr.py down      # stop everything this script started
    python scripts/dr.py drill     # up, stream, kill A mid-stream, fail over, count: see dr_drill

State (pids, ports, data, logs) lives in ``.cache/dr/``, apart from scripts/services.py's
shared services, which this script never touches. The PostgreSQL servers: scripts/dr_pg.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import services
from dr_pg import (
    DR,
    DrError,
    kill_pg,
    owned_dir,
    postmaster_pid,
    promote,
    rewind,
    start_primary,
    start_standby,
    stop_pg,
)

ROOT = services.ROOT
STATE_FILE = DR / "state.json"
MIRROR_POM = ROOT / "scripts" / "mirror" / "pom.xml"
MIRROR_LIBS = ROOT / ".cache" / "mirror" / "libs"
TOPIC, GROUP = "dream.snapshots", "dream-workers"
# Both sites share what a deployment shares between regions: the pseudonymisation secret (so a
# user has the same pseudonym in both) and the raw outputs' bucket (replicated in production).
PII_KEY = "dr-drill-shared-pseudonym-secret"


# Processes: MirrorMaker 2, dream api / worker --------------------------------------------------


def _launch(argv: list[str], log_name: str, env: dict[str, str] | None = None) -> int:
    (DR / "logs").mkdir(parents=True, exist_ok=True)
    with open(DR / "logs" / log_name, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)  # fmt: skip
    return proc.pid


def kill_group(pid: int | None, sig: int = signal.SIGKILL, wait_s: float = 15) -> None:
    """Signal ``pid``'s process group; after SIGTERM, SIGKILL what is left after ``wait_s``."""
    if not pid:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + wait_s
    while services._pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if services._pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def mirror_libs() -> Path:
    return services._maven_libs(MIRROR_POM, MIRROR_LIBS, "MirrorMaker 2")


def start_mirror(source: str, target: str, name: str = "A->B") -> dict[str, Any]:
    """MirrorMaker 2 in dedicated mode: ``dream.snapshots`` and the workers' group source → target."""
    src, dst = name.split("->")
    props = DR / f"mm2-{src}{dst}.properties"
    props.write_text("\n".join([
        f"clusters = {src}, {dst}",
        f"{src}.bootstrap.servers = {source}",
        f"{dst}.bootstrap.servers = {target}",
        f"{src}->{dst}.enabled = true",
        f"{dst}->{src}.enabled = false",
        f"{src}->{dst}.topics = {TOPIC.replace('.', '[.]')}",
        f"{src}->{dst}.groups = {GROUP}",
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        "sync.group.offsets.enabled = true",
        "sync.group.offsets.interval.seconds = 1",
        "emit.checkpoints.interval.seconds = 1",
        "emit.heartbeats.interval.seconds = 1",
        "refresh.topics.interval.seconds = 2",
        "refresh.groups.interval.seconds = 2",
        "offset.lag.max = 0",  # an offset sync per record: translation exact, not ~100 behind
        "sync.topic.configs.enabled = true",
        "sync.topic.acls.enabled = false",
        "replication.factor = 1",
        *(f"{t}.replication.factor = 1" for t in (
            "checkpoints.topic", "heartbeats.topic", "offset-syncs.topic",
            "offset.storage", "status.storage", "config.storage")),
        "tasks.max = 1",
        "dedicated.mode.enable.internal.rest = false",
        f"{dst}.producer.max.request.size = 16777216",
        "",
    ]))  # fmt: skip
    argv = ["java", "-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={ROOT / 'scripts' / 'kafka' / 'log4j2.properties'}",
            "-cp", f"{mirror_libs()}/*", "org.apache.kafka.connect.mirror.MirrorMaker",
            str(props), "--clusters", dst]  # fmt: skip
    return {"pid": _launch(argv, f"mm2-{src}{dst}.log"), "name": name}


def dream_env(site: str, kafka: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}
    return env | {
        "DREAM_KAFKA_BOOTSTRAP": kafka, "DREAM_DATABASE_URL": database_url,
        "DREAM_DATA_DIR": str(DR / f"site-{site.lower()}"), "DREAM_BLOB_DIR": str(DR / "blobs"),
        "DREAM_PII_KEY": PII_KEY, "DREAM_AUTH": "off", "DREAM_LOG_FORMAT": "json",
        "DREAM_RATE_LIMITS": "ingest=2000/s:4000,query=200/s:400", "DREAM_METRICS_PORT": "0",
    }  # fmt: skip


def start_worker(site: str, kafka: str, database_url: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "dream", "worker"]
    return {"pid": _launch(argv, f"worker-{site}.log", dream_env(site, kafka, database_url))}


def start_api(site: str, kafka: str, database_url: str, timeout_s: float = 90) -> dict[str, Any]:
    """`dream api` on a free port, once its /healthz answers."""
    port = services.free_port()
    argv = [sys.executable, "-m", "dream", "api", "--host", "127.0.0.1", "--port", str(port)]
    pid = _launch(argv, f"api-{site}.log", dream_env(site, kafka, database_url))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return {"pid": pid, "url": url}
        if not services._pid_alive(pid) or time.monotonic() > deadline:
            kill_group(pid)
            raise DrError(f"the api of site {site} did not start; see {DR / 'logs'}")
        time.sleep(0.2)


# State and commands ----------------------------------------------------------------------------


def load_state() -> dict[str, Any]:
    return json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}


def save_state(state: dict[str, Any]) -> None:
    STATE_FILE.write_text(json.dumps(state, indent=2))


def up() -> dict[str, Any]:
    """Both sites and the mirror, from scratch (whatever ``.cache/dr`` held is removed)."""
    if any(_alive(state) for state in load_state().values() if isinstance(state, dict)):
        raise DrError("the sites are already up: `python scripts/dr.py down` first")
    shutil.rmtree(DR, ignore_errors=True)
    (DR / "logs").mkdir(parents=True)
    owned_dir(DR / "logs").chmod(0o777)  # PostgreSQL (another user) writes its log here
    state: dict[str, Any] = {"active": "A"}
    save_state(state)
    try:
        services.kafka_libs()  # once, before two brokers start from it
        with ThreadPoolExecutor(4) as pool:
            kafka_a = pool.submit(services.start_kafka, "kafka-a", DR)
            kafka_b = pool.submit(services.start_kafka, "kafka-b", DR)
            libs = pool.submit(mirror_libs)
            state["pg_a"] = start_primary("pg-a")
            save_state(state)
            state["pg_b"] = start_standby(state["pg_a"], "pg-b")
            save_state(state)
            state["kafka_a"], state["kafka_b"] = kafka_a.result(), kafka_b.result()
            save_state(state)
            libs.result()
        a_kafka, a_db = state["kafka_a"]["bootstrap"], state["pg_a"]["url"]
        state["api_a"] = start_api("A", a_kafka, a_db)  # creates the topics, migrates
        save_state(state)
        state["worker_a"] = start_worker("A", a_kafka, a_db)
        state["mirror"] = start_mirror(a_kafka, state["kafka_b"]["bootstrap"])
        save_state(state)
    except BaseException:
        down()
        raise
    return state


def failover(state: dict[str, Any]) -> dict[str, float]:
    """Site A dies (SIGKILL: api, worker, broker, primary); B is promoted and takes over.

    Returns when each step finished, in seconds since the kill."""
    killed = time.monotonic()
    for name in ("api_a", "worker_a", "kafka_a"):
        kill_group(state.get(name, {}).get("pid"))
    kill_pg(state["pg_a"])
    steps = {"killed": 0.0}
    # The mirror's source is gone: stop it (it would retry forever) before B's workers join
    # the group, so no checkpoint lands after they commit.
    kill_group(state.get("mirror", {}).get("pid"), signal.SIGTERM, wait_s=3)
    steps["mirror_stopped"] = time.monotonic() - killed
    promote(state["pg_b"])
    steps["promoted"] = time.monotonic() - killed
    state["translated"] = group_position(state["kafka_b"]["bootstrap"])
    b_kafka, b_db = state["kafka_b"]["bootstrap"], state["pg_b"]["url"]
    state["worker_b"] = start_worker("B", b_kafka, b_db)
    state["api_b"] = start_api("B", b_kafka, b_db)
    steps["api_b_up"] = time.monotonic() - killed
    state["active"] = "B"
    save_state(state)
    return steps


def wait_until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise DrError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)
    return value


def failback(state: dict[str, Any]) -> dict[str, float]:
    """Back to site A after a failover, losing nothing B acknowledged.

    Rejoin: A's old primary is rewound into B's standby, A's broker restarted and mirrored
    B → A. Switch: B's api stops, B's worker drains its topic and stops, B's PostgreSQL stops
    cleanly (its last WAL reaches A), A is promoted and its worker and api start; B is rewound
    into A's standby and the A → B mirror resumes. Returns each step's end, in seconds."""
    began = time.monotonic()
    steps: dict[str, float] = {}
    state["pg_a"] = rewind(state["pg_a"], state["pg_b"])
    state["kafka_a"] = services.restart_kafka(state["kafka_a"])
    a_kafka, b_kafka = state["kafka_a"]["bootstrap"], state["kafka_b"]["bootstrap"]
    state["mirror"] = start_mirror(b_kafka, a_kafka, "B->A")
    save_state(state)
    steps["a_rejoined"] = time.monotonic() - began
    kill_group(state["api_b"]["pid"], signal.SIGTERM)
    switched = time.monotonic()
    wait_until(lambda: drained(b_kafka), 120, "B's worker reading its whole topic")
    kill_group(state["worker_b"]["pid"], signal.SIGTERM)
    stop_pg(state["pg_b"])  # a clean stop: its standby receives all of its WAL first
    kill_group(state["mirror"]["pid"], signal.SIGTERM, wait_s=3)
    promote(state["pg_a"])
    a_db = state["pg_a"]["url"]
    state["worker_a"] = start_worker("A", a_kafka, a_db)
    state["api_a"] = start_api("A", a_kafka, a_db)
    steps["a_serving"] = time.monotonic() - began
    steps["write_pause_s"] = time.monotonic() - switched
    for name in ("api_b", "worker_b"):
        state.pop(name, None)
    state["active"] = "A"
    save_state(state)
    state["pg_b"] = rewind(state["pg_b"], state["pg_a"])
    state["mirror"] = start_mirror(a_kafka, b_kafka, "A->B")
    save_state(state)
    steps["b_standby_again"] = time.monotonic() - began
    return steps


def drained(bootstrap: str) -> bool:
    """The workers' group has committed up to the end of the topic."""
    position = group_position(bootstrap)
    return position["committed"] == position["end"]


def group_position(bootstrap: str) -> dict[str, int]:
    """Where the workers' group stands on a cluster: its committed offsets (on B before its
    workers start: MirrorMaker's translation) and the topic's end, summed over partitions."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                         "enable.auto.commit": False})  # fmt: skip
    try:
        metadata = consumer.list_topics(TOPIC, timeout=10)
        parts = [TopicPartition(TOPIC, p) for p in metadata.topics[TOPIC].partitions]
        committed = consumer.committed(parts, timeout=10)
        ends = [consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts]
    finally:
        consumer.close()
    return {"committed": sum(max(0, p.offset) for p in committed), "end": sum(ends)}


def _alive(part: dict[str, Any]) -> bool:
    if "pgdata" in part:
        pid = postmaster_pid(Path(part["pgdata"]))
        return pid is not None and services._pid_alive(pid)
    return bool(part.get("pid")) and services._pid_alive(part["pid"])


def status() -> dict[str, str]:
    state = load_state()
    return {
        name: ("up " if _alive(part) else "down ") + str(part.get("url") or part.get("bootstrap") or "")
        for name, part in state.items() if isinstance(part, dict) and ("pid" in part or "pgdata" in part)
    }  # fmt: skip


def down() -> None:
    """Stop everything recorded in .cache/dr/state.json (the data stays until the next up)."""
    state = load_state()
    for name in ("api_a", "api_b", "worker_a", "worker_b", "mirror", "kafka_a", "kafka_b"):
        if name in state:
            kill_group(state[name].get("pid"), signal.SIGTERM)
    for name in ("pg_a", "pg_b"):
        if name in state:
            stop_pg(state[name])
    if STATE_FILE.exists():
        STATE_FILE.unlink()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    try:
        if command == "up":
            state = up()
            print(f"site A: api {state['api_a']['url']}  kafka {state['kafka_a']['bootstrap']}"
                  f"  postgres {state['pg_a']['url']}")
            print(f"site B: kafka {state['kafka_b']['bootstrap']}  standby {state['pg_b']['url']}"
                  "  (api and worker start at failover)")
        elif command == "failover":
            state = load_state()
            if state.get("active") != "A":
                raise DrError("site A is not the active site (nothing to fail over)")
            steps = failover(state)
            print(f"site B active: api {state['api_b']['url']};"
                  f" steps (s after the kill): {json.dumps({k: round(v, 1) for k, v in steps.items()})}")
        elif command == "failback":
            state = load_state()
            if state.get("active") != "B":
                raise DrError("site B is not the active site (fail over first)")
            steps = failback(state)
            print(f"site A active again: api {state['api_a']['url']};"
                  f" steps (s): {json.dumps({k: round(v, 1) for k, v in steps.items()})}")
        elif command == "status":
            for name, what in status().items():
                print(f"{name:10} {what}")
        elif command == "down":
            down()
        elif command == "drill":
            import dr_drill

            return dr_drill.main(argv[2:])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (DrError, services.ServiceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
