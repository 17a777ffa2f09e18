"""Bodies that never end or never arrive: refused while they stream, memory and slots bounded.

A real `dream api` process (Kafka mode, the shared broker) is driven over raw sockets, so the
framing (chunked, multipart) is exactly what an attacker would send; its RSS is sampled with
psutil while the request streams.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from faults import dream_env, start_api, terminate
from helpers import PeakRss, live_ps_aux, ps_aux_with_unreadable_lines, snapshot_body, wait_for

MiB = 1024 * 1024
BODY_TIMEOUT_S = 2
MAX_IN_FLIGHT = 4


@pytest.fixture
def api(database_url: str, kafka_bootstrap: str, logs_dir: Path) -> Iterator[tuple[str, int]]:
    env = dream_env(
        database_url, kafka_bootstrap,
        DREAM_MAX_IN_FLIGHT=MAX_IN_FLIGHT, DREAM_BODY_TIMEOUT_S=BODY_TIMEOUT_S,
    )  # fmt: skip
    proc, base = start_api(env, logs_dir / "api.log")
    try:
        yield base, proc.pid
    finally:
        terminate(proc)


class RawPost:
    """A POST /v1/snapshots over a bare socket; a reader thread catches the answer as soon as
    the server sends it, even while this side is still sending."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        url = urlsplit(base)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=30)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"POST /v1/snapshots HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        self.sent = 0
        self.response = b""
        self.answered = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        # The server writes the head and the body separately: an answer is complete once the
        # body has the head's Content-Length (or the server closed the connection).
        try:
            while data := self.sock.recv(65536):
                self.response += data
                if self._complete():
                    self.answered.set()
        except OSError:
            pass
        self.answered.set()

    def _complete(self) -> bool:
        head, separator, body = self.response.partition(b"\r\n\r\n")
        if not separator:
            return False
        length = re.search(rb"^content-length:\s*(\d+)", head, re.IGNORECASE | re.MULTILINE)
        return length is None or len(body) >= int(length.group(1))

    def send(self, data: bytes, *, chunked: bool) -> bool:
        """False once the server answered or closed: it stopped reading."""
        if self.answered.is_set():
            return False
        try:
            self.sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def answer(self, timeout_s: float = 30) -> tuple[int, str]:
        assert self.answered.wait(timeout_s), "no answer"
        head, _, body = self.response.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode(errors="replace")

    def close(self) -> None:
        self.sock.close()


def _multipart_head(boundary: str) -> bytes:
    fields = snapshot_body("")
    del fields["output"]
    return b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )


def _file_part(boundary: str, name: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="ps.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()


def test_chunked_multipart_part_beyond_the_limit_is_refused_while_it_streams(api) -> None:
    base, pid = api
    boundary = "dreamboundary"
    post = RawPost(base, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                          "Transfer-Encoding": "chunked"})  # fmt: skip
    block = b"x" * MiB
    with PeakRss(pid) as rss:
        post.send(_multipart_head(boundary) + _file_part(boundary, "output"), chunked=True)
        for _ in range(200):  # a 200 MiB output, never declared
            if not post.send(block, chunked=True):
                break
        status, body = post.answer()
    post.close()
    assert status == 413, body
    assert "DREAM_MAX_SNAPSHOT_BYTES" in body and str(64 * MiB) in body
    # Refused at 64 MiB (plus what the socket buffers held), not after the whole 200 MiB.
    assert post.sent < 120 * MiB, f"the server read {post.sent / MiB:.0f} MiB before refusing"
    assert rss.growth_mib < 150, f"api RSS grew {rss.growth_mib:.0f} MiB"


def test_many_chunked_multipart_parts_are_refused_with_memory_bounded(api) -> None:
    base, pid = api
    boundary = "dreamboundary"
    post = RawPost(base, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                          "Transfer-Encoding": "chunked"})  # fmt: skip
    part = b"y" * (MiB - 4096)  # each just under the 1 MiB a part may be buffered in memory
    with PeakRss(pid) as rss:
        post.send(_multipart_head(boundary), chunked=True)
        for i in range(200):
            if not post.send(_file_part(boundary, f"f{i}") + part + b"\r\n", chunked=True):
                break
        else:
            post.send(f"--{boundary}--\r\n".encode(), chunked=True)
            post.send(b"", chunked=True)
        status, body = post.answer()
    post.close()
    assert status == 400, body
    assert "Too many files" in body
    assert rss.growth_mib < 150, f"api RSS grew {rss.growth_mib:.0f} MiB"


def test_slow_bodies_time_out_and_free_their_slots(api) -> None:
    base, _ = api
    normal = snapshot_body(live_ps_aux())
    slow = []
    for _ in range(MAX_IN_FLIGHT + 2):  # more than there are slots, one byte each
        post = RawPost(base, {"Content-Type": "application/json", "Content-Length": "100000"})
        post.send(b"{", chunked=False)
        slow.append(post)
    try:
        # Every slot is held by a body that will never come: a normal post is refused ...
        wait_for(lambda: httpx.post(f"{base}/v1/snapshots", json=normal, timeout=10).status_code
                 == 503, timeout_s=10, what="the slots to fill")  # fmt: skip
        # ... until the body deadline answers the slow ones 408 and frees the slots.
        answers = [post.answer(timeout_s=BODY_TIMEOUT_S + 20) for post in slow]
        timed_out = [body for status, body in answers if status == 408]
        assert len(timed_out) >= MAX_IN_FLIGHT - 1, answers  # the rest got 503 at once
        assert all("DREAM_BODY_TIMEOUT_S" in body for body in timed_out)
        response = wait_for(
            lambda: (r := httpx.post(f"{base}/v1/snapshots", json=normal, timeout=10)).status_code
            == 202 and r, timeout_s=15, what="a normal post accepted",
        )  # fmt: skip
        assert json.loads(response.text)["snapshot_id"] == normal["snapshot_id"]
    finally:
        for post in slow:
            post.close()


@pytest.fixture
def small_api(database_url: str, kafka_bootstrap: str, logs_dir: Path) -> Iterator[str]:
    """An api whose posts may hold 1.5 MiB of bodies in all, each at most 1 MiB."""
    env = dream_env(database_url, kafka_bootstrap, DREAM_MAX_SNAPSHOT_BYTES=MiB,
                    DREAM_MAX_IN_FLIGHT_BYTES=3 * MiB // 2)  # fmt: skip
    proc, base = start_api(env, logs_dir / "api.log")
    try:
        yield base
    finally:
        terminate(proc)


def _big_body() -> bytes:
    """A real snapshot of about 0.85 MiB: two of them pass 1.5 MiB."""
    return json.dumps(snapshot_body(ps_aux_with_unreadable_lines(good=9000, bad=0))).encode()


def test_bodies_held_at_once_are_bounded_by_bytes_not_only_by_count(small_api: str) -> None:
    """Two posts are far from DREAM_MAX_IN_FLIGHT, but their bodies together pass
    DREAM_MAX_IN_FLIGHT_BYTES: the one whose bytes come second is refused while it streams."""
    bodies = [_big_body(), _big_body()]
    assert all(0.8 * MiB < len(body) < MiB for body in bodies)
    posts = [RawPost(small_api, {"Content-Type": "application/json",
                                 "Content-Length": str(len(body))}) for body in bodies]  # fmt: skip
    try:
        for post, body in zip(posts, bodies, strict=True):
            post.send(body[:-1], chunked=False)  # all but the last byte: held by the api
        refused = wait_for(lambda: next((p for p in posts if p.answered.is_set()), None),
                           timeout_s=20, what="one of the two posts refused")  # fmt: skip
        status, answer = refused.answer()
        assert status == 503 and "DREAM_MAX_IN_FLIGHT_BYTES" in answer, (status, answer)
        [(other, body)] = [(p, b) for p, b in zip(posts, bodies, strict=True) if p is not refused]
        other.send(body[-1:], chunked=False)
        assert other.answer()[0] == 202
    finally:
        for post in posts:
            post.close()
    # Every byte was given back: another body as large passes alone.
    again = httpx.post(f"{small_api}/v1/snapshots", content=_big_body(), timeout=30,
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert again.status_code == 202, again.text
