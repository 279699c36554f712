"""The local copy of contacts' people, on PostgreSQL: e-mail addresses learned, changed, erased."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import Envelope, Event, build_event
from crm_events.contacts.customer_v2 import (
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
    RegistrationOrigin,
)
from crm_events.personal import new_key, seal
from crm_platform.privacy import KeyNotYetKnown, MemoryKeyring
from crm_service_desk.application import NewTicket, ServiceDeskApplication
from crm_service_desk.messaging.customers import CustomerDirectory

from .conftest import issued

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def registered(customer: UUID, key: bytes, *addresses: str) -> Event[Any]:
    emails = [{"address": a, "type": "work", "primary": i == 0} for i, a in enumerate(addresses)]
    data = CustomerRegisteredV2(
        customer_id=customer,
        given_name=seal("Ada", key=key, subject=customer),
        family_name=seal("Lovelace", key=key, subject=customer),
        emails=seal(emails, key=key, subject=customer),
        origin=RegistrationOrigin.API,
        registered_at=NOW,
    )
    return build_event(data, aggregate_id=customer)


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def directory(application: ServiceDeskApplication, keyring: MemoryKeyring) -> CustomerDirectory:
    return CustomerDirectory(application, keyring)


async def test_a_registered_persons_addresses_are_learned(
    directory: CustomerDirectory, keyring: MemoryKeyring, application: ServiceDeskApplication
) -> None:
    customer, key = uuid4(), new_key()
    await keyring.issued(customer, key)
    await directory.apply(registered(customer, key, "ada@example.org", "ada@home.example"))

    assert application.index.customer_by_email("ADA@example.org") == customer
    assert application.index.customer_by_email("ada@home.example") == customer


async def test_an_address_change_replaces_the_old_ones(
    directory: CustomerDirectory, keyring: MemoryKeyring, application: ServiceDeskApplication
) -> None:
    customer, key = uuid4(), new_key()
    await keyring.issued(customer, key)
    await directory.apply(registered(customer, key, "old@example.org"))
    changes = {"emails": [{"address": "new@example.org", "type": "work", "primary": True}]}
    updated = CustomerProfileUpdated(
        customer_id=customer,
        changed=["emails"],
        changes=seal(changes, key=key, subject=customer),
        updated_at=NOW,
    )
    await directory.apply(build_event(updated, aggregate_id=customer, aggregate_version=2))

    assert application.index.customer_by_email("old@example.org") is None
    assert application.index.customer_by_email("new@example.org") == customer


async def test_a_sealed_address_waits_for_its_key(
    directory: CustomerDirectory,
) -> None:
    customer = uuid4()
    with pytest.raises(KeyNotYetKnown):  # retried by the consumer base until the key arrives
        await directory.apply(registered(customer, new_key(), "ada@example.org"))


async def test_an_erased_person_is_forgotten_and_their_tickets_shredded(
    directory: CustomerDirectory, keyring: MemoryKeyring, application: ServiceDeskApplication
) -> None:
    customer, key = uuid4(), new_key()
    await keyring.issued(customer, key)
    await directory.apply(registered(customer, key, "ada@example.org"))
    ticket = application.open_ticket(
        issued(),
        uuid4(),
        NewTicket(
            customer_id=customer,
            organization_id=None,
            subject="Help",
            description="Please",
            channel="web",
            priority="low",
            category="question",
        ),
    ).value

    erased = CustomerErased(customer_id=customer, erased_at=NOW)
    await directory.apply(build_event(erased, aggregate_id=customer, aggregate_version=3))

    assert application.index.customer_by_email("ada@example.org") is None
    assert application.get_ticket(ticket.id).subject is None


async def test_events_of_other_kinds_and_unknown_types_are_ignored(
    directory: CustomerDirectory, application: ServiceDeskApplication
) -> None:
    customer = uuid4()
    erased = build_event(CustomerErased(customer_id=customer, erased_at=NOW), aggregate_id=customer)
    unknown = Envelope.model_validate(
        {
            **erased.model_dump(),
            "type": "CustomerPromoted",
            "data": {"customer_id": str(uuid4())},
        }
    )
    await directory.apply(unknown)
    assert application.recorder.max_notification_id() in (None, 0)
