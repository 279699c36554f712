"""An erased customer's tickets, as the relay publishes them: each ticket key's destruction
announced, then the erasure confirmed once (``crm.service-desk.erasure.v1``); tickets the index
holds in quarantine (no row, or a stale one) erased too, and none confirmed while one of them
cannot be loaded."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from crm_events.erasure import CustomerErasureConfirmed
from crm_events.personal import PersonalDataKeyDestroyed
from crm_platform.erasure import erasure_record_id
from crm_platform.quarantine import Entry
from crm_service_desk.application import NewTicket, ServiceDeskApplication
from crm_service_desk.application.index import PROJECTION
from crm_service_desk.domain import Ticket

from .conftest import act, issued, open_ticket, published

pytestmark = pytest.mark.integration

POISON = "bad\x00agent"  # PostgreSQL text cannot hold a NUL


def test_erasure_announces_the_destruction_of_the_ticket_key_then_confirms(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    ticket = open_ticket(application, customer_id=customer)
    application.erase_customer(customer)
    application.erase_customer(customer)  # CustomerErased delivered again

    *_, destroyed, confirmed = (e.data for e in published(application))
    assert isinstance(destroyed, PersonalDataKeyDestroyed) and destroyed.subject_id == ticket
    # What was published before stays sealed with a key nobody has any more.
    assert application.personal_data_keys.key(ticket) is None
    assert isinstance(confirmed, CustomerErasureConfirmed)
    assert confirmed.topic() == "crm.service-desk.erasure.v1"
    assert (confirmed.customer_id, confirmed.service) == (customer, "service-desk")
    assert [(d.kind, d.method) for d in confirmed.erased] == [("ticket", "key_destroyed")]


def test_a_customer_without_tickets_is_confirmed_too(application: ServiceDeskApplication) -> None:
    customer = uuid4()

    assert application.erase_customer(customer) == 0

    [confirmed] = published(application)
    assert isinstance(confirmed.data, CustomerErasureConfirmed)
    assert confirmed.data.customer_id == customer


# --- tickets the index holds in quarantine ------------------------------------------------------


def assign(app: ServiceDeskApplication, ticket_id: UUID, assignee: str) -> None:
    """Straight to the application: the API refuses control characters."""
    act(app, ticket_id, Ticket.assign, assignee=assignee)


def held(app: ServiceDeskApplication) -> list[Entry]:
    return app.index.projection.quarantine.list(loop=PROJECTION).items


def without_a_row(app: ServiceDeskApplication, customer: UUID) -> UUID:
    """Opened and given a poison assignee before the index applied it: never written."""
    ticket = open_ticket(app, customer_id=customer)
    assign(app, ticket, POISON)
    return ticket


def with_a_stale_row(app: ServiceDeskApplication, customer: UUID) -> UUID:
    """From an unknown sender, poisoned, then linked to the customer: the row stays unlinked."""
    ticket = app.open_ticket(
        issued(),
        uuid4(),
        NewTicket(
            customer_id=None,
            organization_id=None,
            subject="Refund",
            description="Charged twice",
            channel="email",
            priority="normal",
            category="question",
            requester_email="ada@example.org",
        ),
    ).value.id
    app.index.catch_up()
    assign(app, ticket, POISON)
    assert app.learn_customer_email(customer, "ada@example.org") == 1
    return ticket


@pytest.mark.parametrize("poisoned", [without_a_row, with_a_stale_row])
def test_erasure_reaches_a_ticket_the_index_holds_in_quarantine_before_confirming(
    application: ServiceDeskApplication,
    poisoned: Callable[[ServiceDeskApplication, UUID], UUID],
) -> None:
    customer = uuid4()
    ticket = poisoned(application, customer)
    application.index.catch_up()
    assert application.index.tickets_of(customer) == []  # its row cannot tell
    assert {e.aggregate_id for e in held(application)} == {str(ticket)}

    assert application.erase_customer(customer) == 1

    assert application.get_ticket(ticket).subject is None
    assert application.personal_data_keys.key(ticket) is None
    # The erasure (its key's destruction announced) first, then the confirmation.
    *_, destroyed, confirmed = (e.data for e in published(application))
    assert isinstance(destroyed, PersonalDataKeyDestroyed) and destroyed.subject_id == ticket
    assert isinstance(confirmed, CustomerErasureConfirmed) and confirmed.customer_id == customer


def test_a_held_ticket_that_cannot_be_loaded_leaves_the_erasure_unconfirmed(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    open_ticket(application, customer_id=customer)
    broken = open_ticket(application)
    application.recorder.insert_events(  # an event this build cannot read: whose ticket?
        [StoredEvent(broken, 2, "crm_service_desk.domain.ticket:Ticket.Assigned", b"\xffjunk")]
    )
    application.index.catch_up()
    assert {e.aggregate_id for e in held(application)} == {str(broken)}

    with pytest.raises(MapperDeserialisationError):  # the consumer retries, then dead-letters
        application.erase_customer(customer)

    with pytest.raises(AggregateNotFoundError):  # nothing confirmed
        application.repository.get(erasure_record_id(customer))
