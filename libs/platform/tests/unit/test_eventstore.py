"""The command context rides inside each stored event, invisible to the domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic, resolve_topic

from crm_events.contacts import CustomerRegistered
from crm_platform.context import CommandContext, command_context, current_context
from crm_platform.eventstore import ContextCapturingMapper, eventsourcing_env, read_metadata
from crm_platform.relay import integration_event
from crm_platform.settings import PostgresSettings

pytestmark = pytest.mark.unit

CONTEXT = CommandContext(
    correlation_id="corr-1",
    causation_id="request:1",
    actor="alice",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate="vendor=1",
)


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


@pytest.fixture
def notes() -> Application:
    return Application(env={"MAPPER_TOPIC": get_topic(ContextCapturingMapper)})


def test_the_context_is_stored_and_read_back_with_the_event(notes: Application) -> None:
    with command_context(CONTEXT):
        note = Note("hello")
        notes.save(note)
    assert current_context() is None

    [notification] = notes.recorder.select_notifications(0, 10)
    mapper = notes.mapper
    assert isinstance(mapper, ContextCapturingMapper)
    domain_event, metadata = mapper.decode_with_metadata(notification)

    assert isinstance(domain_event, Note.Written) and domain_event.text == "hello"
    assert "__crm_meta__" not in vars(domain_event)
    assert metadata is not None
    assert (metadata.correlation_id, metadata.causation_id, metadata.actor) == (
        "corr-1",
        "request:1",
        "alice",
    )
    assert (metadata.traceparent, metadata.tracestate) == (CONTEXT.traceparent, "vendor=1")
    assert metadata.recorded_at is not None
    assert abs(datetime.now(UTC) - metadata.recorded_at) < timedelta(minutes=1)


def test_the_domain_never_sees_the_metadata(notes: Application) -> None:
    with command_context(CONTEXT):
        note = Note("hello")
        pending = note.collect_events()
        stored = notes.mapper.to_stored_event(pending[0])
    assert "__crm_meta__" not in vars(pending[0])  # the recorded event object is left alone
    assert b"corr-1" in stored.state
    assert "__crm_meta__" not in vars(notes.mapper.to_domain_event(stored))

    with command_context(CONTEXT):
        notes.save(Note("again"))
    [*_, notification] = notes.recorder.select_notifications(0, 10)
    restored = notes.repository.get(notification.originator_id)
    assert restored.text == "again"
    assert "__crm_meta__" not in vars(restored)


def test_an_event_recorded_without_context_has_no_metadata(notes: Application) -> None:
    notes.save(Note("quiet"))
    [notification] = notes.recorder.select_notifications(0, 10)
    domain_event, metadata = notes.mapper.decode_with_metadata(notification)  # type: ignore[attr-defined]
    assert domain_event.text == "quiet"
    assert metadata is None


def test_integration_events_keep_their_id_when_republished() -> None:
    now = datetime.now(UTC)
    customer = uuid4()
    data = CustomerRegistered(
        customer_id=customer, given_name="Ada", family_name="L", registered_at=now
    )
    domain_event = SimpleNamespace(originator_id=customer, originator_version=1, timestamp=now)
    first = integration_event(data, domain_event, None, source_service="contacts")
    again = integration_event(data, domain_event, None, source_service="contacts")
    assert first.id == again.id
    assert first.correlationid == str(first.id)  # without a context the event starts a chain
    assert (first.aggregateid, first.aggregateversion, first.subject) == (
        str(customer),
        1,
        str(customer),
    )
    other = SimpleNamespace(originator_id=customer, originator_version=2, timestamp=now)
    assert integration_event(data, other, None, source_service="contacts").id != first.id


def test_read_metadata_reads_the_context_of_a_notification(notes: Application) -> None:
    with command_context(CONTEXT):
        notes.save(Note("hello"))
    notes.save(Note("quiet"))
    first, second = notes.recorder.select_notifications(0, 10)
    metadata = read_metadata(first, notes.mapper)
    assert metadata is not None and metadata.correlation_id == "corr-1"
    assert metadata.actor == "alice"
    assert read_metadata(second, notes.mapper) is None


def test_read_metadata_of_a_plain_mapper_is_none() -> None:
    plain = Application()
    plain.save(Note("hello"))
    [notification] = plain.recorder.select_notifications(0, 10)
    assert type(plain.mapper) is Mapper
    assert read_metadata(notification, plain.mapper) is None


def test_the_environment_points_eventsourcing_at_postgres_with_the_mapper() -> None:
    settings = PostgresSettings(host="db", port=5433, user="u", password="p w")
    env = eventsourcing_env(settings, "contacts")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == (
        "contacts",
        "db",
        "5433",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("u", "p w")
    assert resolve_topic(env["MAPPER_TOPIC"]) is ContextCapturingMapper
    # the insert function takes no table lock: a tailing relay could skip events
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"
    assert (
        eventsourcing_env(settings.model_copy(update={"database": "t1"}), "contacts")[
            "POSTGRES_DBNAME"
        ]
        == "t1"
    )
