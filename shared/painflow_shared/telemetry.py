"""OpenTelemetry and logging: one trace per patient step, JSON logs that carry trace ids.

Spans and logs carry resource ids only, never names, birth dates, identifiers or free text.
Tracing is set up once per process (the provider is global); each app is instrumented on its own.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.kafka import KafkaInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span
from sqlalchemy import Engine

from painflow_shared.settings import SharedSettings

_lock = threading.Lock()
_provider: TracerProvider | None = None

# A log line or span attribute never grows with what a client sent: a whole body, or the
# stack trace of a 1,000-level recursion, would be one line of hundreds of kilobytes.
MAX_MESSAGE_CHARS = 8192
MAX_STACK_FRAMES = 12
MAX_STACK_CHARS = 4096
MAX_SPAN_ATTRIBUTE_CHARS = 4096


def tracer_provider(settings: SharedSettings, extra: SpanProcessor | None = None) -> TracerProvider:
    """The process's TracerProvider, made on first use with the configured exporter."""
    global _provider
    with _lock:
        if _provider is None:
            _provider = TracerProvider(
                resource=Resource.create(
                    {
                        "service.name": f"painflow-{settings.service_name}",
                        "service.namespace": "painflow",
                    }
                ),
                span_limits=SpanLimits(max_attribute_length=MAX_SPAN_ATTRIBUTE_CHARS),
            )
            _add_exporter(_provider, settings)
            trace.set_tracer_provider(_provider)
            HTTPXClientInstrumentor().instrument(
                request_hook=lambda span, _request: scrub_query(span)
            )
            KafkaInstrumentor().instrument()
        if extra is not None:
            _provider.add_span_processor(extra)
        return _provider


def _add_exporter(provider: TracerProvider, settings: SharedSettings) -> None:
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif settings.zipkin_endpoint:
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        zipkin = ZipkinExporter(
            endpoint=settings.zipkin_endpoint,
            max_tag_value_length=MAX_SPAN_ATTRIBUTE_CHARS,
            timeout=5,  # a stopped viewer must not hold up the export thread for long
        )
        provider.add_span_processor(BatchSpanProcessor(zipkin, schedule_delay_millis=500))
    elif settings.trace_console:
        exporter = ConsoleSpanExporter(out=sys.stderr, formatter=_one_line)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))


def _one_line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def flush_spans() -> None:
    """Export what is buffered (at shutdown); the provider stays usable for other apps."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def instrument_app(app: FastAPI, engine: Engine, settings: SharedSettings) -> None:
    provider = tracer_provider(settings)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls="health/.*,metrics",
        exclude_spans=["receive", "send"],  # one span per body chunk is noise, and unbounded
        server_request_hook=lambda span, _scope: scrub_query(span),
    )
    SQLAlchemyInstrumentor().instrument(
        engine=engine, tracer_provider=provider, enable_commenter=False
    )


_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")


def scrub_query(span: Span) -> None:
    """Search parameters can name a patient (family=, birthdate=): spans keep the path only."""
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(name, value.split("?", 1)[0])
    if attributes.get("url.query"):
        span.set_attribute("url.query", "redacted")


class JsonLogFormatter(logging.Formatter):
    """One bounded JSON object per line with the current trace and span ids.

    An exception is its type and its innermost frames (file, line, function): never its text,
    its source lines or its locals, which may quote patient data.
    """

    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": _capped(record.getMessage(), MAX_MESSAGE_CHARS),
            "service": getattr(record, "service", None) or _service_name,
        }
        if span.is_valid:
            body["trace_id"] = format(span.trace_id, "032x")
            body["span_id"] = format(span.span_id, "016x")
        if record.exc_info and record.exc_info[0] is not None:
            body["error"] = record.exc_info[0].__name__
            body["stack"] = _innermost_frames(record.exc_info[2])
        return json.dumps(body)


def _capped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


def _innermost_frames(tb: TracebackType | None) -> list[str]:
    """The last frames, innermost last, within ``MAX_STACK_CHARS`` all told."""
    frames = traceback.StackSummary.extract(
        traceback.walk_tb(tb), limit=-MAX_STACK_FRAMES, lookup_lines=False, capture_locals=False
    )
    kept: list[str] = []
    budget = MAX_STACK_CHARS
    for frame in reversed(frames):
        line = _capped(f"{frame.filename}:{frame.lineno} in {frame.name}", 512)
        budget -= len(line)
        if budget < 0:
            break
        kept.append(line)
    return kept[::-1]


_service_name = "painflow"


def configure_logging(settings: SharedSettings) -> None:
    """JSON logs on stderr. Exception text is reduced to its type and innermost frames: the
    text may quote patient data."""
    global _service_name
    _service_name = settings.service_name
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonLogFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for noisy in ("kafka", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
