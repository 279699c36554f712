"""OpenTelemetry tracing (OTLP/HTTP when configured) and JSON logs carrying trace ids."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .context import current_context
from .settings import TelemetrySettings

_configured = False


def setup_telemetry(service_name: str, settings: TelemetrySettings | None = None) -> None:
    """Install tracing and JSON logging once per process (later calls change nothing)."""
    global _configured
    if _configured:
        return
    settings = settings or TelemetrySettings()
    resource = Resource.create(
        {"service.name": service_name, "service.version": settings.service_version}
    )
    provider = TracerProvider(resource=resource)
    if settings.otlp_endpoint:
        # Like OTEL_EXPORTER_OTLP_ENDPOINT, the setting is the collector's base URL.
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if settings.console:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(TraceContextTextMapPropagator())
    setup_logging(service_name, settings.log_level)
    _configured = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace, span and correlation ids of the moment."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        if ctx := current_context():
            entry["correlation_id"] = ctx.correlation_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(service_name: str, level: str = "INFO") -> None:
    """Every log record of the process, as JSON on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
