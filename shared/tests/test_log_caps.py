"""A log line stays bounded whatever a client sent: a capped message, an exception reduced to
its type and a few frames (no text, no source, no locals), spans with bounded attributes."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from painflow_shared.settings import SharedSettings
from painflow_shared.telemetry import (
    MAX_MESSAGE_CHARS,
    MAX_SPAN_ATTRIBUTE_CHARS,
    MAX_STACK_CHARS,
    MAX_STACK_FRAMES,
    JsonLogFormatter,
    tracer_provider,
)


def _line(msg: str, args: tuple[Any, ...] = (), exc_info: Any = None) -> str:
    record = logging.LogRecord("painflow.test", logging.ERROR, __file__, 1, msg, args, exc_info)
    return JsonLogFormatter().format(record)


def _recurse(depth: int, secret: str) -> None:
    if depth == 0:
        raise ValueError(f"{secret} is not a FHIR date")
    _recurse(depth - 1, secret)


def test_a_huge_message_is_capped():
    body = '{"resourceType": "Bundle", "entry": [' + "x" * 400_000
    line = _line("received %s", (body,))
    assert len(line) < MAX_MESSAGE_CHARS + 1024
    message = json.loads(line)["message"]
    assert message.startswith("received {")
    assert message.endswith(f"[{len('received ') + len(body) - MAX_MESSAGE_CHARS} more characters]")


def test_a_small_message_is_untouched():
    assert json.loads(_line("stored %s", ("Task/1",)))["message"] == "stored Task/1"


def test_a_deep_traceback_is_trimmed_to_its_innermost_frames():
    limit = sys.getrecursionlimit()
    try:
        _recurse(limit // 2, secret="Jane Doe 1933-07-29")
    except ValueError:
        line = _line("unhandled error", exc_info=sys.exc_info())
    assert len(line) < MAX_STACK_CHARS + 1024
    body = json.loads(line)
    assert body["error"] == "ValueError"
    assert 0 < len(body["stack"]) <= MAX_STACK_FRAMES
    assert body["stack"][-1].endswith(" in _recurse")  # the innermost frame is kept
    assert "Jane" not in line and "raise ValueError" not in line  # no text, no source lines


def test_span_attributes_are_bounded():
    tracer = tracer_provider(SharedSettings(trace_console=False)).get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        span.set_attribute("db.statement", "SELECT " + "x," * 50_000)
    assert len(span.attributes["db.statement"]) == MAX_SPAN_ATTRIBUTE_CHARS
