"""OpenTelemetry tracing: spans for requests, produce, parse and write, one trace api → worker.

An OTLP exporter is installed only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise spans
are still created (so trace ids reach the logs) but nothing is exported. The trace context
travels in Kafka message headers (W3C ``traceparent``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# A delivery's trace context: W3C ``traceparent`` (and friends) as message headers.
TraceHeaders = list[tuple[str, bytes]]

_configured = False


def configure_tracing(service: str) -> None:
    """Install a tracer provider for ``service`` (once per process)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


@cache  # the SDK builds a new Tracer per call (~0.4 ms): one per post, per snapshot stored
def tracer() -> trace.Tracer:
    """Dream's tracer (before ``configure_tracing``, a proxy that follows the provider set)."""
    return trace.get_tracer("dream")


def current_log_correlation() -> dict[str, str]:
    """The current span as OpenTelemetry's log correlation fields (``trace_id``, 32 hex;
    ``span_id``, 16 hex; ``trace_flags``, 2 hex: 01 = sampled), or {} outside a valid span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}",
            "trace_flags": f"{context.trace_flags:02x}"}  # fmt: skip


def inject_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka message headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(key, value.encode()) for key, value in carrier.items()]


def extract_context(headers: Iterable[tuple[str, bytes | str | None]] | Mapping | None) -> Context:
    """The trace context carried by Kafka message headers (an empty context if none)."""
    carrier: dict[str, str] = {}
    for key, value in (headers.items() if isinstance(headers, Mapping) else headers or []):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if value is not None:
            carrier[key] = value
    return propagate.extract(carrier)
