"""Tracing set up once per process; JSON log lines carrying trace, span and correlation ids."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

from crm_platform.context import CommandContext, command_context
from crm_platform.telemetry import JsonFormatter

pytestmark = pytest.mark.unit


def _record(message: str, exc_info: bool = False) -> logging.LogRecord:
    info = sys.exc_info() if exc_info else None
    return logging.LogRecord("crm.test", logging.WARNING, __file__, 1, message, (), info)


def test_a_log_line_is_json_with_the_ids_of_the_moment() -> None:
    formatter = JsonFormatter("crm-test-api")
    tracer = TracerProvider().get_tracer(__name__)
    with tracer.start_as_current_span("request") as span, command_context(CommandContext("c-7")):
        entry = json.loads(formatter.format(_record("refused %s")))
    context = span.get_span_context()
    assert entry | {"time": "t"} == {
        "time": "t",
        "level": "WARNING",
        "service": "crm-test-api",
        "logger": "crm.test",
        "message": "refused %s",
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "correlation_id": "c-7",
    }


def test_outside_a_request_there_are_no_ids_but_stacks_are_kept() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        entry = json.loads(JsonFormatter("s").format(_record("failed", exc_info=True)))
    assert "trace_id" not in entry and "correlation_id" not in entry
    assert entry["exception"].endswith("ValueError: broken")


SCRIPT = """
import json, logging
from opentelemetry import propagate, trace
from crm_platform.settings import TelemetrySettings
from crm_platform.telemetry import setup_telemetry

setup_telemetry("crm-a", TelemetrySettings(otlp_endpoint="http://127.0.0.1:9", service_version="2.1"))
provider = trace.get_tracer_provider()
setup_telemetry("crm-b", TelemetrySettings(console=True))
assert trace.get_tracer_provider() is provider, "a second call must change nothing"
processors = provider._active_span_processor._span_processors
print(json.dumps({
    "resource": {k: provider.resource.attributes[k] for k in ("service.name", "service.version")},
    "exporters": [type(p.span_exporter).__name__ for p in processors],
    "propagators": sorted(propagate.get_global_textmap().fields),
    "handlers": len(logging.getLogger().handlers),
}))
"""


def test_setup_is_idempotent_and_exports_over_otlp_when_configured() -> None:
    # In a process of its own: the tracer provider of a process can be set only once.
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == {
        "resource": {"service.name": "crm-a", "service.version": "2.1"},
        "exporters": ["OTLPSpanExporter"],
        "propagators": ["traceparent", "tracestate"],
        "handlers": 1,
    }
