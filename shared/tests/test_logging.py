"""JSON logs carry the trace id and never the text of an exception (it may quote patient data)."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from painflow_shared.telemetry import JsonLogFormatter


def _format(record: logging.LogRecord) -> dict:
    return json.loads(JsonLogFormatter().format(record))


def test_log_lines_are_json_with_the_current_trace():
    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord(
        "painflow.test", logging.INFO, __file__, 1, "stored %s", ("Task/1",), None
    )
    with tracer.start_as_current_span("work") as span:
        line = _format(record)
    assert line["message"] == "stored Task/1"
    assert line["level"] == "INFO"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert len(line["span_id"]) == 16


def test_exception_text_is_reduced_to_its_type():
    try:
        raise ValueError("Jane Doe, born 1970-01-01")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "painflow.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = _format(record)
    assert line["error"] == "ValueError"
    assert "Jane" not in json.dumps(line)
