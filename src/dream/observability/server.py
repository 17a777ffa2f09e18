"""The worker's HTTP endpoint: ``/metrics`` for Prometheus, ``/healthz`` (liveness: the process
runs) and ``/readyz`` (readiness: it makes progress; see dream/worker/health.py) for probes.

The api serves these on its own port; the worker has no web framework, so a threaded WSGI
server from the standard library answers these paths.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

WORKER_PATHS = ("/metrics", "/healthz", "/readyz")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would flood the logs; stay silent."""


def worker_app(
    registry: CollectorRegistry = REGISTRY,
    healthy: Callable[[], bool] = lambda: True,
    ready: Callable[[], tuple[bool, dict[str, Any]]] = lambda: (True, {"status": "ready"}),
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok = healthy()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json")],
            )
            return [b'{"status": "ok"}' if ok else b'{"status": "unhealthy"}']
        if path == "/readyz":
            ok, body = ready()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json")],
            )
            return [json.dumps(body).encode()]
        if path == "/metrics":
            return metrics(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return app


class MetricsServer:
    """Serves ``worker_app`` on ``host:port`` from a daemon thread."""

    def __init__(self, port: int, host: str = "0.0.0.0", **app_kwargs: Any) -> None:
        self._server = make_server(
            host,
            port,
            worker_app(**app_kwargs),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dream-metrics", daemon=True
        )

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
