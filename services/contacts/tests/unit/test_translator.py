from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from crm_contacts.contracts import translate
from crm_contacts.domain import Channel, Customer, Direction
from crm_events import registry
from crm_events.contacts import (
    CustomerContacted,
    CustomerRegistered,
    InteractionChannel,
    InteractionDirection,
)
from crm_platform.eventstore import EventMetadata

pytestmark = pytest.mark.unit

OCCURRED_AT = datetime(2025, 3, 14, 9, 58, tzinfo=UTC)
METADATA = EventMetadata(
    correlation_id="corr-1",
    causation_id="cause-1",
    actor="alice",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate=None,
    recorded_at=OCCURRED_AT + timedelta(minutes=1),
)


def customer_events() -> list[object]:
    customer = Customer.register(
        uuid4(),
        given_name="Ada",
        family_name="Lovelace",
        email="ada@example.org",
        phone="+442079460958",
        request_fingerprint="fp",
    )
    customer.record_contact(
        interaction_id=uuid4(),
        channel="chat",
        direction="outbound",
        summary="Sent the offer",
        actor="bob",
        occurred_at=OCCURRED_AT,
        request_fingerprint="fp",
    )
    return list(customer.collect_events())


def test_registration_is_published_as_customer_registered() -> None:
    registered = customer_events()[0]

    published = translate(registered, METADATA)

    assert published is not None
    assert published.data == CustomerRegistered(
        customer_id=registered.originator_id,
        given_name="Ada",
        family_name="Lovelace",
        email="ada@example.org",
        phone="+442079460958",
        registered_at=registered.timestamp,
    )
    assert (published.type, published.aggregateid, published.aggregateversion) == (
        "CustomerRegistered",
        str(registered.originator_id),
        1,
    )


def test_a_contact_is_published_as_customer_contacted_with_the_request_context() -> None:
    contacted = customer_events()[1]

    published = translate(contacted, METADATA)

    assert published is not None
    assert isinstance(published.data, CustomerContacted)
    assert published.data.interaction_id == contacted.interaction_id
    assert published.data.channel is InteractionChannel.CHAT
    assert published.data.direction is InteractionDirection.OUTBOUND
    assert (published.data.summary, published.data.actor) == ("Sent the offer", "bob")
    assert published.data.occurred_at == OCCURRED_AT
    assert published.aggregateversion == 2
    assert (published.correlationid, published.causationid, published.actor) == (
        "corr-1",
        "cause-1",
        "alice",
    )
    assert published.traceparent == METADATA.traceparent


def test_published_events_parse_with_the_contract_registry_and_keep_their_id() -> None:
    for domain_event in customer_events():
        published = translate(domain_event, None)
        assert published is not None

        assert registry.parse(published.to_json()) == published
        assert translate(domain_event, None) == published


def test_events_without_a_contract_stay_private() -> None:
    class Note(Aggregate):
        @event("Written")
        def __init__(self, text: str) -> None:
            self.text = text

    assert translate(Note(text="x").collect_events()[0], METADATA) is None


@pytest.mark.parametrize(
    ("domain", "contract"), [(Channel, InteractionChannel), (Direction, InteractionDirection)]
)
def test_domain_vocabularies_match_the_contract(domain: type, contract: type) -> None:
    assert {m.value for m in domain} == {m.value for m in contract}
