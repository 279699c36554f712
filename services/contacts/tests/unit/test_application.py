from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.domain import (
    CustomerNotFound,
    IdempotencyKeyReused,
    InteractionNotFound,
    VersionConflict,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def app() -> Iterator[ContactsApplication]:
    application = ContactsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def register(app: ContactsApplication, customer_id: UUID, fingerprint: str = "r1") -> Any:
    return app.register_customer(
        customer_id,
        given_name="Ada",
        family_name="Lovelace",
        email="Ada@Example.org",
        phone=None,
        request_fingerprint=fingerprint,
    )


def record(
    app: ContactsApplication,
    customer_id: UUID,
    interaction_id: UUID | None = None,
    *,
    expected_version: int | None = None,
    fingerprint: str = "c1",
) -> Any:
    return app.record_contact(
        customer_id,
        expected_version=expected_version,
        interaction_id=interaction_id or uuid4(),
        channel="email",
        direction="outbound",
        summary="Sent the offer",
        actor="bob",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        request_fingerprint=fingerprint,
    )


def test_a_registered_customer_can_be_read_back(app: ContactsApplication) -> None:
    customer_id = uuid4()

    outcome = register(app, customer_id)

    assert not outcome.replayed
    assert app.get_customer(customer_id) == outcome.value
    assert outcome.value.email == "ada@example.org"
    assert outcome.value.version == 1


def test_a_retried_registration_answers_as_the_first_even_after_later_changes(
    app: ContactsApplication,
) -> None:
    customer_id = uuid4()
    first = register(app, customer_id)
    record(app, customer_id)

    retry = register(app, customer_id)

    assert retry.replayed
    assert retry.value == first.value
    assert app.get_customer(customer_id).version == 2


def test_a_registration_key_reused_for_another_request_is_refused(
    app: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(app, customer_id)

    with pytest.raises(IdempotencyKeyReused):
        register(app, customer_id, fingerprint="other")


def test_contacts_are_listed_in_the_order_recorded(app: ContactsApplication) -> None:
    customer_id = uuid4()
    register(app, customer_id)

    ids = [record(app, customer_id, expected_version=v).value.interaction_id for v in (1, 2, 3)]

    customer = app.get_customer(customer_id)
    assert [i.interaction_id for i in customer.interactions] == ids
    assert customer.version == 4
    assert app.get_interaction(customer_id, ids[1]).customer_version == 3


def test_a_stale_expected_version_is_a_conflict_naming_the_current_one(
    app: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(app, customer_id)
    record(app, customer_id, expected_version=1)

    with pytest.raises(VersionConflict) as raised:
        record(app, customer_id, expected_version=1)

    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert app.get_customer(customer_id).version == 2


def test_a_retried_contact_is_a_replay_even_with_its_now_stale_version(
    app: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(app, customer_id)
    interaction_id = uuid4()
    first = record(app, customer_id, interaction_id, expected_version=1)

    retry = record(app, customer_id, interaction_id, expected_version=1)

    assert retry.replayed
    assert retry.value == first.value
    assert app.get_customer(customer_id).version == 2
    with pytest.raises(IdempotencyKeyReused):
        record(app, customer_id, interaction_id, fingerprint="other")


def test_unknown_customers_and_interactions_are_not_found(app: ContactsApplication) -> None:
    customer_id = uuid4()
    with pytest.raises(CustomerNotFound):
        app.get_customer(customer_id)
    with pytest.raises(CustomerNotFound):
        record(app, customer_id)
    register(app, customer_id)
    with pytest.raises(InteractionNotFound):
        app.get_interaction(customer_id, uuid4())


def race(app: ContactsApplication, rival: Callable[[], object]) -> None:
    """Let ``rival`` commit just before the application's next save, as a concurrent writer."""
    save = app.save

    def save_after_rival(*objs: Any, **kwargs: Any) -> Any:
        del app.save  # the rival and the retries save normally
        rival()
        return save(*objs, **kwargs)

    app.save = save_after_rival  # type: ignore[method-assign]


def test_losing_a_race_with_an_expected_version_is_a_conflict(app: ContactsApplication) -> None:
    customer_id = uuid4()
    register(app, customer_id)
    race(app, lambda: record(app, customer_id))

    with pytest.raises(VersionConflict) as raised:
        record(app, customer_id, expected_version=1)

    assert (raised.value.expected, raised.value.actual) == (1, 2)


def test_losing_a_race_without_an_expected_version_retries(app: ContactsApplication) -> None:
    customer_id = uuid4()
    register(app, customer_id)
    race(app, lambda: record(app, customer_id))

    outcome = record(app, customer_id)

    assert not outcome.replayed
    assert outcome.value.customer_version == 3
    assert len(app.get_customer(customer_id).interactions) == 2


def test_racing_retries_of_one_contact_record_it_once(app: ContactsApplication) -> None:
    customer_id, interaction_id = uuid4(), uuid4()
    register(app, customer_id)
    race(app, lambda: record(app, customer_id, interaction_id, expected_version=1))

    outcome = record(app, customer_id, interaction_id, expected_version=1)

    assert outcome.replayed
    assert app.get_customer(customer_id).version == 2


@pytest.mark.parametrize(("fingerprint", "replayed"), [("r1", True), ("other", False)])
def test_racing_registrations_with_one_key(
    app: ContactsApplication, fingerprint: str, replayed: bool
) -> None:
    customer_id = uuid4()
    race(app, lambda: register(app, customer_id, fingerprint=fingerprint))

    if replayed:
        assert register(app, customer_id).replayed
    else:
        with pytest.raises(IdempotencyKeyReused):
            register(app, customer_id)
