"""Records stored before command receipts: their events carried the request's fingerprint (and a
profile update its command id). They read back without them, and a retry of such a command is
answered by the record as it stands, or applied again only where the domain allows it."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.domain import Customer

from .conftest import NOW, a_person, command, contact

pytestmark = pytest.mark.unit


def store_as_before_receipts(app: ContactsApplication, customer: Customer) -> None:
    """Store the customer's new events in their version-1 shape, as contacts stored them."""
    stored = []
    for event in customer.collect_events():
        record = app.mapper.to_stored_event(event)
        state: dict[str, Any] = app.mapper.transcoder.decode(record.state)
        del state["class_version"]
        state["request_fingerprint"] = "sha256 of the request"
        if isinstance(event, Customer.ProfileUpdated):  # type: ignore[attr-defined]
            state["command_id"] = uuid4()
        stored.append(dataclasses.replace(record, state=app.mapper.transcoder.encode(state)))
    app.recorder.insert_events(stored)


def a_person_stored_before_receipts(app: ContactsApplication) -> tuple[Customer, UUID]:
    customer = a_person(given_name="Ada")
    customer.update_profile(patch={"tags": ["vip"]}, definitions={})
    interaction_id = contact(customer, occurred_at=NOW)
    store_as_before_receipts(app, customer)
    return customer, interaction_id


def test_old_events_read_back_without_the_request_they_came_with(
    application: ContactsApplication,
) -> None:
    customer, _ = a_person_stored_before_receipts(application)

    view = application.get_customer(customer.id)
    history = application.export_customer(customer.id).records[0].history

    assert (view.version, view.person.given_name, view.person.tags) == (3, "Ada", ("vip",))
    assert [h.type for h in history] == [
        "Customer.Registered",
        "Customer.ProfileUpdated",
        "Customer.Contacted",
    ]
    for entry in history:
        assert not {"request_fingerprint", "command_id", "class_version"} & set(entry.data)


def test_a_registration_retried_from_before_receipts_answers_the_person(
    application: ContactsApplication,
) -> None:
    customer, _ = a_person_stored_before_receipts(application)
    retry = command(uuid5(customer.id, "register"))

    outcome = application.register_customer(retry, customer.id, profile={"family_name": "Other"})

    assert outcome.replayed
    assert outcome.value.person.family_name == "Lovelace"
    assert application.get_customer(customer.id).version == 3


def test_a_contact_retried_from_before_receipts_is_not_recorded_twice(
    application: ContactsApplication,
) -> None:
    customer, interaction_id = a_person_stored_before_receipts(application)

    outcome = application.record_contact(
        customer.id,
        command(interaction_id),
        channel="phone",
        direction="inbound",
        summary="Asked for a quote",
        actor="bob",
        occurred_at=NOW,
    )

    assert outcome.value.version == 3
    assert list(outcome.value.interactions) == [interaction_id]
