"""OpenTelemetry tracing (OTLP/HTTP when configured) and JSON logs carrying trace ids.

Spans of one command, across processes: the HTTP server span (FastAPI instrumentation), the
event-store append (``crm_platform.eventstore``), the relay's publish and the consumers' process
spans (children of the trace context stored with the event), and every MongoDB command made
inside a trace (``MongoCommandSpans``, PyMongo's command monitoring).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pymongo import monitoring

from .context import current_context
from .settings import TelemetrySettings

_configured = False


def setup_telemetry(
    service_name: str, settings: TelemetrySettings | None = None, *, package: str = "crm-platform"
) -> None:
    """Install tracing and JSON logging once per process (later calls change nothing).

    ``package`` is the distribution whose version names the running code, unless
    ``CRM_SERVICE_VERSION`` (an image tag, say) overrides it.
    """
    global _configured
    if _configured:
        return
    settings = settings or TelemetrySettings()
    resource = Resource.create(
        {
            "service.namespace": "crm",
            "service.name": service_name,
            "service.version": settings.service_version or package_version(package),
            "deployment.environment": settings.environment,
            "deployment.environment.name": settings.environment,
        }
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
    trace_mongodb()
    setup_logging(service_name, settings.log_level)
    _configured = True


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


class MongoCommandSpans(monitoring.CommandListener):
    """A client span per MongoDB command issued inside a trace (a read model's write in a
    consumer's process span, a query in a request); the driver's own housekeeping outside any
    trace makes none. Named and attributed as OpenTelemetry's database conventions say."""

    def __init__(self) -> None:
        self.tracer = trace.get_tracer("crm.mongodb")
        self._open: dict[tuple[int, Any], trace.Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else event.command.get("collection")
        attributes: dict[str, str | int] = {
            "db.system.name": "mongodb",
            "db.namespace": event.database_name,
            "db.operation.name": event.command_name,
            "server.address": str(event.connection_id[0]),
            "server.port": event.connection_id[1] or 27017,
        }
        if isinstance(collection, str):
            attributes["db.collection.name"] = collection
        name = f"{event.command_name} {collection}" if isinstance(collection, str) else None
        self._open[self._key(event)] = self.tracer.start_span(
            name or event.command_name, kind=trace.SpanKind.CLIENT, attributes=attributes
        )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if span := self._open.pop(self._key(event), None):
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if span := self._open.pop(self._key(event), None):
            span.set_status(trace.StatusCode.ERROR, str(event.failure.get("errmsg", "")))
            span.set_attribute("db.response.status_code", str(event.failure.get("code", "")))
            span.end()

    @staticmethod
    def _key(event: Any) -> tuple[int, Any]:
        return event.request_id, event.connection_id


_mongodb_traced = False


def trace_mongodb() -> None:
    """Trace the MongoDB commands of every client created from now on (once per process)."""
    global _mongodb_traced
    if not _mongodb_traced:
        monitoring.register(MongoCommandSpans())
        _mongodb_traced = True


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
