"""The application on the in-memory store: idempotent commands, the SLA check of a ticket, the
knowledge base (what needs the index is tested on PostgreSQL, in the integration tests)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.application.commands import (
    Assign,
    Rate,
    Reopen,
    Reply,
    Resolve,
    StartWork,
)
from crm_service_desk.domain import (
    IdempotencyKeyReused,
    Status,
    TransitionNotAllowed,
    VersionConflict,
)

from .conftest import Clock

pytestmark = pytest.mark.unit


def open_ticket(app: ServiceDeskApplication, priority: str = "normal") -> UUID:
    return app.open_ticket(
        uuid4(),
        customer_id=uuid4(),
        organization_id=None,
        subject="Refund",
        description="Charged twice",
        channel="web",
        priority=priority,
        category="billing",
        request_fingerprint="f",
    ).value.id


def test_a_retried_open_answers_with_the_first_result_and_a_changed_one_is_refused(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application)
    again = application.open_ticket(
        ticket_id,
        customer_id=uuid4(),
        organization_id=None,
        subject="Refund",
        description="Charged twice",
        channel="web",
        priority="normal",
        category="billing",
        request_fingerprint="f",
    )
    assert again.replayed and again.value.version == 1
    with pytest.raises(IdempotencyKeyReused):
        application.open_ticket(
            ticket_id,
            customer_id=None,
            organization_id=None,
            subject="Other",
            description="Other",
            channel="web",
            priority="normal",
            category="billing",
            request_fingerprint="g",
        )


def test_a_retried_command_is_replayed_with_the_ticket_as_it_left_it(
    application: ServiceDeskApplication,
) -> None:
    ticket_id, command = open_ticket(application), uuid4()

    def assign() -> object:
        return application.execute(
            ticket_id, command, Assign("bob"), by="lead", expected_version=1, fingerprint="f"
        )

    first = assign()
    application.execute(
        ticket_id, uuid4(), Reply("Hi"), by="bob", expected_version=None, fingerprint="f"
    )
    second = assign()

    assert second.replayed and second.value == first.value  # version 2, not 3
    with pytest.raises(IdempotencyKeyReused):
        application.execute(
            ticket_id, command, Assign("eve"), by="lead", expected_version=None, fingerprint="g"
        )


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application)
    with pytest.raises(VersionConflict) as conflict:
        application.execute(
            ticket_id, uuid4(), StartWork(), by="bob", expected_version=7, fingerprint="f"
        )
    assert conflict.value.actual == 1
    assert application.get_ticket(ticket_id).version == 1


def test_the_sla_check_records_each_due_breach_once_and_escalates_urgent_tickets(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    urgent, normal = open_ticket(application, "urgent"), open_ticket(application, "normal")
    assert application.record_breaches(urgent, clock.now) == 0

    clock.advance(minutes=31)  # past the urgent ticket's 30-minute first response
    assert application.record_breaches(urgent, clock.now) == 1
    assert application.record_breaches(urgent, clock.now) == 0
    assert application.record_breaches(normal, clock.now) == 0

    ticket = application.get_ticket(urgent)
    assert ticket.status == Status.ESCALATED
    assert [s.breached_at_due for s in ticket.sla] == [clock.now - timedelta(minutes=1), None]
    assert application.get_ticket(normal).status == Status.OPEN


def test_breaches_fall_due_across_a_weekend_and_normal_tickets_are_not_escalated(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    ticket_id = open_ticket(application, "normal")  # first response in 8 business hours
    clock.advance(days=4, hours=6)  # Friday 16:00: 37 business hours later
    assert application.record_breaches(ticket_id, clock.now) == 1
    clock.advance(days=3)  # Monday 16:00: 45 business hours, past the 40h resolution target
    assert application.record_breaches(ticket_id, clock.now) == 1

    ticket = application.get_ticket(ticket_id)
    assert ticket.status == Status.OPEN
    assert all(s.breached_at_due for s in ticket.sla)


def test_reopening_repeatedly_escalates(application: ServiceDeskApplication) -> None:
    ticket_id = open_ticket(application)
    for _ in range(3):
        application.execute(
            ticket_id, uuid4(), Resolve(None), by="bob", expected_version=None, fingerprint="f"
        )
        application.execute(
            ticket_id, uuid4(), Reopen(), by="bob", expected_version=None, fingerprint="f"
        )
    assert application.get_ticket(ticket_id).status == Status.ESCALATED


def test_the_survey_after_resolution(application: ServiceDeskApplication) -> None:
    ticket_id = open_ticket(application)
    with pytest.raises(TransitionNotAllowed):
        application.execute(
            ticket_id, uuid4(), Rate(5, None), by="survey", expected_version=None, fingerprint="f"
        )
    application.execute(
        ticket_id, uuid4(), Resolve("Done"), by="bob", expected_version=None, fingerprint="f"
    )
    rated = application.execute(
        ticket_id, uuid4(), Rate(5, "Great"), by="survey", expected_version=None, fingerprint="f"
    ).value
    assert (rated.rating, rated.rating_comment) == (5, "Great")


def test_articles_drafted_from_a_ticket_and_published_once(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application)
    application.execute(
        ticket_id,
        uuid4(),
        Resolve("Refunds take five days."),
        by="bob",
        expected_version=None,
        fingerprint="f",
    )
    article = application.draft_article(
        uuid4(),
        title=None,
        body=None,
        tags=["Billing"],
        source_ticket_id=ticket_id,
        author="bob",
        request_fingerprint="f",
    ).value
    assert (article.title, article.body, article.tags) == (
        "Refund",
        "Refunds take five days.",
        ("billing",),
    )

    published = application.publish_article(article.id, by="editor", expected_version=None)
    again = application.publish_article(article.id, by="editor", expected_version=None)

    assert published.revision == again.revision == 1
    assert again.version == 2  # published once
