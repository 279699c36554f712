"""A service's erasure confirmation: recorded once per person, translated for its own topic."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from crm_events import registry
from crm_events.erasure import CONFIRMATIONS, ErasedData, ErasureMethod
from crm_platform.erasure import (
    confirm_erasure,
    confirmation_payload,
    erasure_record_id,
)
from crm_platform.relay import integration_event

pytestmark = pytest.mark.unit

TICKETS = [ErasedData(kind="ticket", method=ErasureMethod.KEY_DESTROYED)]


@pytest.fixture
def app() -> Application[uuid.UUID]:
    return Application({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_a_person_is_confirmed_once(app: Application[uuid.UUID]) -> None:
    customer_id = uuid.uuid4()

    first = confirm_erasure(app, customer_id, TICKETS)
    assert first is not None
    app.save(first)

    assert first.id == erasure_record_id(customer_id) != customer_id
    assert confirm_erasure(app, customer_id, TICKETS) is None, "redelivered: nothing new"


def test_a_concurrent_second_confirmation_loses_the_race(app: Application[uuid.UUID]) -> None:
    customer_id = uuid.uuid4()
    one, two = (confirm_erasure(app, customer_id, TICKETS) for _ in range(2))
    app.save(one)

    with pytest.raises(IntegrityError):
        app.save(two)


def test_the_translator_publishes_it_on_the_services_topic(app: Application[uuid.UUID]) -> None:
    customer_id = uuid.uuid4()
    confirmation = confirm_erasure(app, customer_id, TICKETS)
    assert confirmation is not None
    [confirmed] = confirmation.collect_events()

    data = confirmation_payload(confirmed, service="service-desk")
    assert data is not None
    event = integration_event(data, confirmed, None, source_service="service-desk")

    assert type(event.data) is CONFIRMATIONS["service-desk"]
    assert (event.data.customer_id, event.data.service) == (customer_id, "service-desk")
    assert event.data.erased == TICKETS
    assert event.data.confirmed_at == confirmed.timestamp
    assert event.aggregateid == str(erasure_record_id(customer_id))
    assert registry.parse(event.to_json()) == event


def test_other_events_are_not_confirmations() -> None:
    assert confirmation_payload(object(), service="sales") is None
