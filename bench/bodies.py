"""Large posts at once: the api's peak RSS with DREAM_MAX_IN_FLIGHT_BYTES, and with it set so
high that only DREAM_MAX_IN_FLIGHT (a count) bounds the bodies held.

A real `dream api` (a fresh database on the PostgreSQL server at ``--server-url``, topics of its
own on the broker at ``--bootstrap``; no worker) takes
``--posts`` posts of ``--mib`` MiB each, all sent at once, each a MiB every ``--pause-s`` (a
client on a slow link: the bodies are held together); its RSS is sampled every 20 ms. The two
settings are run alternately, ``--rounds`` times each, so they share the machine's load.

    .venv/bin/python -m bench.bodies --server-url postgresql://… --bootstrap host:port
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import psutil

from bench.e2e import BENCH_KEY, _drop_database, _fresh_database, services, wait_until_ready

MiB = 1024 * 1024
ROW = "msmith  4242  0.5  0.1 167748 11200 pts/0  S  10:00  0:03 /usr/bin/python3 job.py\n"


def _body(mib: float, n: int) -> bytes:
    output = "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
    output += ROW * int(mib * MiB / len(ROW))
    return json.dumps({
        "host": f"bench-{n}", "os": "linux", "user": "msmith", "faculty": "engineering",
        "collected_at": datetime.now(UTC).isoformat(), "command": "ps aux", "output": output,
    }).encode()  # fmt: skip


def run(database_url: str, bootstrap: str, posts: int, mib: float, pause_s: float,
        in_flight_bytes: int) -> dict[str, object]:  # fmt: skip
    """Peak RSS growth of one api (MiB) and the statuses of ``posts`` simultaneous posts."""
    port = services.free_port()
    data_dir = tempfile.mkdtemp(prefix="bench-bodies-")
    topic = f"bench-bodies-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DREAM_DATABASE_URL": database_url, "DREAM_KAFKA_BOOTSTRAP": bootstrap,
           "DREAM_KAFKA_TOPIC": topic, "DREAM_KAFKA_DLQ_TOPIC": f"{topic}.dlq",
           "DREAM_DATA_DIR": data_dir, "DREAM_AUTH": "on", "DREAM_BOOTSTRAP_ADMIN_KEY": BENCH_KEY,
           "DREAM_LOG_LEVEL": "warning", "DREAM_MAX_IN_FLIGHT_BYTES": str(in_flight_bytes),
           "DREAM_RATE_LIMITS": ""}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "dream", "api", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        bodies = [_body(mib, n) for n in range(posts)]
        api = psutil.Process(proc.pid)
        start = peak = api.memory_info().rss
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.02):
                peak = max(peak, api.memory_info().rss)

        def slowly(body: bytes) -> Iterator[bytes]:
            for at in range(0, len(body), MiB):
                yield body[at : at + MiB]
                time.sleep(pause_s)

        def post(body: bytes) -> int:
            headers = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
            try:
                return httpx.post(f"{base}/v1/snapshots", content=slowly(body), headers=headers,
                                  timeout=120).status_code  # fmt: skip
            except httpx.TransportError:  # refused while sending: the answer was a 503
                return 503

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=posts) as pool:
            statuses = list(pool.map(post, bodies))
        took = time.monotonic() - t0
        done.set()
        sampler.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"peak_growth_mib": round((peak - start) / MiB), "seconds": round(took, 1),
            "202": statuses.count(202), "503": statuses.count(503)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server-url", default=os.environ.get("DREAM_TEST_DATABASE_URL"))
    parser.add_argument("--bootstrap", default=os.environ.get("DREAM_TEST_KAFKA_BOOTSTRAP"))
    parser.add_argument("--posts", type=int, default=16)
    parser.add_argument("--mib", type=float, default=12, help="under the topic's 16 MiB")
    parser.add_argument("--pause-s", type=float, default=0.2, help="between a body's MiBs")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not args.server_url or not args.bootstrap:
        parser.error("--server-url and --bootstrap (or DREAM_TEST_*) are needed")
    settings = {"DREAM_MAX_IN_FLIGHT_BYTES=256 MiB (default)": 256 * MiB,
                "count only (DREAM_MAX_IN_FLIGHT_BYTES=1 TiB)": 2**40}  # fmt: skip
    url = _fresh_database(args.server_url, "bench_bodies")
    try:
        for round_ in range(args.rounds):
            for name, limit in settings.items():
                result = run(url, args.bootstrap, args.posts, args.mib, args.pause_s, limit)
                print(json.dumps({"round": round_ + 1, "setting": name, **result}), flush=True)
    finally:
        _drop_database(args.server_url, url)


if __name__ == "__main__":
    main()
