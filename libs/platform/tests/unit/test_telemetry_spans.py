"""What a process says about itself in its spans, and the spans of its MongoDB commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresProcessRecorder
from eventsourcing.utils import resolve_topic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from crm_platform.eventstore import (
    TracedApplicationRecorder,
    TracedProcessRecorder,
    append_attributes,
    eventsourcing_env,
)
from crm_platform.settings import PostgresSettings
from crm_platform.telemetry import MongoCommandSpans

pytestmark = pytest.mark.unit

SCRIPT = """
import json
from pymongo import monitoring
from opentelemetry import trace
from crm_platform.telemetry import setup_telemetry

setup_telemetry("crm-contacts-relay", package="crm-contacts")
attributes = trace.get_tracer_provider().resource.attributes
print(json.dumps({
    "resource": {k: attributes[k] for k in (
        "service.namespace", "service.name", "service.version", "deployment.environment"
    )},
    "mongodb": [type(listener).__name__ for listener in monitoring._LISTENERS.command_listeners],
}))
"""


def test_a_process_is_named_versioned_and_placed_in_its_environment() -> None:
    env = {**os.environ, "CRM_ENV": "staging"}
    env.pop("CRM_SERVICE_VERSION", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(result.stdout) == {
        "resource": {
            "service.namespace": "crm",
            "service.name": "crm-contacts-relay",
            "service.version": version("crm-contacts"),
            "deployment.environment": "staging",
        },
        "mongodb": ["MongoCommandSpans"],
    }


def test_the_event_store_appends_through_traced_recorders() -> None:
    env = eventsourcing_env(PostgresSettings(), "contacts")
    application = resolve_topic(env["APPLICATION_RECORDER_TOPIC"])
    process = resolve_topic(env["PROCESS_RECORDER_TOPIC"])
    assert application is TracedApplicationRecorder
    assert issubclass(application, PostgresApplicationRecorder)
    assert process is TracedProcessRecorder and issubclass(process, PostgresProcessRecorder)


def test_an_append_names_its_aggregates_their_types_and_the_event_count() -> None:
    first, second = uuid4(), uuid4()
    stored = [
        StoredEvent(first, 1, "crm_x.domain:Customer.Registered", b"{}"),
        StoredEvent(first, 2, "crm_x.domain:Customer.Contacted", b"{}"),
        StoredEvent(second, 1, "crm_x.domain:Merge.Started", b"{}"),
        StoredEvent(second, 2, "crm_x.events:Standalone", b"{}"),
    ]
    assert append_attributes(stored) == {
        "db.system.name": "postgresql",
        "db.operation.name": "append",
        "crm.event.count": 4,
        "crm.aggregate.ids": sorted([str(first), str(second)]),
        "crm.aggregate.types": ["Customer", "Merge", "Standalone"],
    }


@pytest.fixture
def traced() -> Iterator[tuple[MongoCommandSpans, TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    listener = MongoCommandSpans()
    listener.tracer = provider.get_tracer("test")
    yield listener, provider, exporter


def command(name: str, request_id: int, **body: Any) -> Any:
    return SimpleNamespace(
        command_name=name,
        command={name: body.pop("target", None), **body},
        database_name="crm_analytics",
        connection_id=("mongo.internal", 27017),
        request_id=request_id,
        failure={"errmsg": "E11000 duplicate key", "code": 11000},
    )


def test_a_command_inside_a_trace_is_a_client_span_of_it(traced: Any) -> None:
    listener, provider, exporter = traced
    with provider.get_tracer("test").start_as_current_span("consume") as parent:
        listener.started(command("update", 1, target="customer_360"))
        listener.started(command("getMore", 2, target=7, collection="timeline"))
        listener.failed(command("getMore", 2))
        listener.succeeded(command("update", 1))

    failed, update, _ = exporter.get_finished_spans()
    assert (update.name, update.kind) == ("update customer_360", SpanKind.CLIENT)
    assert update.parent is not None and update.parent.span_id == parent.get_span_context().span_id
    assert dict(update.attributes or {}) == {
        "db.system.name": "mongodb",
        "db.namespace": "crm_analytics",
        "db.operation.name": "update",
        "db.collection.name": "customer_360",
        "server.address": "mongo.internal",
        "server.port": 27017,
    }
    assert failed.name == "getMore timeline"
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["db.response.status_code"] == "11000"


def test_a_command_outside_any_trace_makes_no_span(traced: Any) -> None:
    listener, _, exporter = traced
    listener.started(command("endSessions", 3, target=[]))
    listener.succeeded(command("endSessions", 3))
    assert exporter.get_finished_spans() == ()
