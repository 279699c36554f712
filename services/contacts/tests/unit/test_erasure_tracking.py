"""Following an erasure to its end: the progress record, the confirmations, the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from crm_contacts.application import ContactsApplication
from crm_contacts.application.erasure import ErasureSettings
from crm_contacts.domain import ErasureNotFound, ErasureProgress
from crm_events.erasure import ErasedData, ErasureMethod, erasure_confirmed

from .conftest import command
from .test_application import merge
from .test_application import register as register_as

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 14, 13, 0, tzinfo=UTC)
EXPECTED = ["contacts", "sales", "service-desk"]
TICKETS = [{"kind": "ticket", "method": "key_destroyed"}]


def progress() -> ErasureProgress:
    return ErasureProgress(customer_id=uuid4(), requested_at=T0, expected=EXPECTED)


# --- the progress record ------------------------------------------------------------------------


def test_an_erasure_is_complete_once_every_expected_service_confirmed() -> None:
    erasure = progress()

    assert erasure.confirm("service-desk", T0 + timedelta(minutes=3), TICKETS)
    assert erasure.confirm("contacts", T0, [])
    assert (erasure.pending, erasure.complete) == (["sales"], False)
    assert erasure.confirm("sales", T0 + timedelta(minutes=1), [])

    assert erasure.pending == [] and erasure.complete
    # As of the last part done, whatever order the confirmations arrived in.
    assert erasure.completed_at == T0 + timedelta(minutes=3)
    assert erasure.confirmations["service-desk"].erased == tuple(TICKETS)


def test_a_repeated_confirmation_changes_nothing() -> None:
    erasure = progress()
    erasure.confirm("sales", T0, [])
    version = erasure.version

    assert not erasure.confirm("sales", T0 + timedelta(hours=1), [])
    assert erasure.version == version
    assert erasure.confirmations["sales"].confirmed_at == T0


def test_a_service_not_expected_is_recorded_but_completes_nothing() -> None:
    erasure = progress()
    for service in EXPECTED:
        erasure.confirm(service, T0, [])
    completed_at = erasure.completed_at

    assert erasure.confirm("analytics", T0 + timedelta(days=1), [])
    assert "analytics" in erasure.confirmations and erasure.completed_at == completed_at


def test_an_erasure_not_complete_by_its_deadline_is_overdue() -> None:
    erasure, hour = progress(), timedelta(hours=1)

    assert erasure.due_by(hour) == T0 + hour
    assert not erasure.overdue(T0 + hour, hour)
    assert erasure.overdue(T0 + hour + timedelta(seconds=1), hour)
    for service in EXPECTED:
        erasure.confirm(service, T0, [])
    assert not erasure.overdue(T0 + 2 * hour, hour), "complete: never overdue"


def test_progress_ids_derive_from_the_person_but_differ_from_it() -> None:
    person = uuid4()
    assert ErasureProgress.create_id(person) == ErasureProgress.create_id(person) != person


# --- settings -----------------------------------------------------------------------------------


def test_every_confirming_service_is_expected_by_default_within_an_hour() -> None:
    settings = ErasureSettings()

    assert settings.services == ["contacts", "sales", "marketing", "service-desk", "analytics"]
    assert settings.deadline == timedelta(hours=1)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_CONTACTS_ERASURE_SERVICES", '["contacts", "sales", "sales"]')
    monkeypatch.setenv("CRM_CONTACTS_ERASURE_DEADLINE_SECONDS", "600")

    settings = ErasureSettings()

    assert (settings.services, settings.deadline) == (["contacts", "sales"], timedelta(minutes=10))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVICES", '["contacts", "billing"]'),  # no such confirmation topic: never complete
        ("SERVICES", "[]"),
        ("DEADLINE_SECONDS", "0"),
    ],
)
def test_settings_that_could_never_work_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(f"CRM_CONTACTS_ERASURE_{variable}", value)

    with pytest.raises(ValidationError):
        ErasureSettings()


# --- the application ----------------------------------------------------------------------------


def register(app: ContactsApplication, **profile: Any) -> UUID:
    customer_id = uuid4()
    register_as(app, customer_id, **profile)
    return customer_id


def confirmation(service: str, customer_id: UUID, at: datetime = T0) -> Any:
    erased = [ErasedData(kind="record", method=ErasureMethod.KEY_DESTROYED)]
    return erasure_confirmed(service, customer_id=customer_id, erased=erased, confirmed_at=at)


def position(offset: int, topic: str = "crm.sales.erasure.v1") -> Tracking:
    return Tracking(f"contacts.erasure-confirmations|{topic}|0", offset + 1)


def test_an_erasure_opens_a_progress_for_the_person_and_their_duplicates(
    application: ContactsApplication,
) -> None:
    survivor, duplicate = register(application), register(application, family_name="Byron")
    merge(application, survivor, duplicate)

    erase = command()
    erased_at = application.erase_customer(survivor, erase).value.erased_at

    for customer_id in (survivor, duplicate):
        erasure = application.erasure_progress(customer_id)
        assert (erasure.customer_id, erasure.requested_at) == (customer_id, erased_at)
        assert erasure.expected == ErasureSettings().services
        assert erasure.pending == erasure.expected
    application.erase_customer(survivor, erase)  # a retry answers as before: nothing reopened
    application.erase_customer(survivor, command())  # another finds it done: nothing reopened
    assert application.erasure_progress(survivor).version == 1


def test_a_person_never_erased_has_no_erasure(application: ContactsApplication) -> None:
    with pytest.raises(ErasureNotFound):
        application.erasure_progress(register(application))
    with pytest.raises(ErasureNotFound):
        application.erasure_progress(uuid4())


def test_confirmations_are_recorded_once_per_message_and_per_service(
    application: ContactsApplication,
) -> None:
    customer_id = register(application)
    application.erase_customer(customer_id, command())

    assert application.record_erasure_confirmation(position(7), confirmation("sales", customer_id))
    assert not application.record_erasure_confirmation(
        position(7), confirmation("sales", customer_id)
    ), "redelivered"
    republished = confirmation("sales", customer_id, T0 + timedelta(minutes=5))
    assert application.record_erasure_confirmation(position(8), republished)

    erasure = application.erasure_progress(customer_id)
    assert erasure.confirmations["sales"].confirmed_at == T0
    assert erasure.confirmations["sales"].erased == ({"kind": "record", "method": "key_destroyed"},)
    assert application.processed(position(8))


def test_the_last_expected_confirmation_completes_the_erasure(
    application: ContactsApplication,
) -> None:
    customer_id = register(application)
    application.erase_customer(customer_id, command())
    services = ErasureSettings().services

    for offset, service in enumerate(services):
        topic = f"crm.{service}.erasure.v1"
        at = T0 + timedelta(minutes=offset)
        application.record_erasure_confirmation(
            position(offset, topic), confirmation(service, customer_id, at)
        )

    erasure = application.erasure_progress(customer_id)
    assert erasure.complete and erasure.completed_at == T0 + timedelta(minutes=len(services) - 1)


def test_a_confirmation_of_an_untracked_erasure_only_moves_the_position(
    application: ContactsApplication,
) -> None:
    stranger = uuid4()

    assert application.record_erasure_confirmation(position(3), confirmation("sales", stranger))

    assert application.processed(position(3))
    with pytest.raises(ErasureNotFound):
        application.erasure_progress(stranger)
