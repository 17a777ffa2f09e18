"""A worker run beside other work in one process (``dream serve``: beside the api), started and
stopped by whoever runs both, so the api knows nothing of it beyond its progress (readiness)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

import structlog

from dream.worker.runner import Worker

log = structlog.get_logger(__name__)


class WorkerThread:
    """Runs ``worker`` in a thread while the ``with`` block runs; on leaving, stops it (the batch
    in hand is finished or abandoned, never half acknowledged), waits for it, then closes its
    source (after the thread has ended: a consumer closed under a running poll can hang)."""

    def __init__(self, worker: Worker, *, join_timeout_s: float = 30.0) -> None:
        self.worker = worker
        self.join_timeout_s = join_timeout_s
        self._thread = threading.Thread(target=worker.run, name="dream-worker", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self.worker.stop()
        self._thread.join(timeout=self.join_timeout_s)
        if self._thread.is_alive():
            log.warning("the worker did not stop in time; its source is left open",
                        timeout_s=self.join_timeout_s)  # fmt: skip
            return
        self.worker.source.close()
