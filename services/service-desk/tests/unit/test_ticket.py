"""The Ticket aggregate's rules: its lifecycle, its conversation and its SLA clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from crm_service_desk.domain import (
    Action,
    RuleViolation,
    SlaPolicy,
    SlaTarget,
    Status,
    Ticket,
    TransitionNotAllowed,
    WorkingCalendar,
)
from crm_service_desk.domain.values import ALLOWED_FROM

from .conftest import MONDAY_10

pytestmark = pytest.mark.unit

POLICY = SlaPolicy(WorkingCalendar.weekdays("UTC"))  # normal: 8h first response, 40h resolution


def opened(priority: str = "normal", category: str = "question") -> Ticket:
    return Ticket.open(
        uuid4(),
        customer_id=uuid4(),
        organization_id=None,
        subject="Cannot log in",
        description="The password reset mail never arrives.",
        requester_email=None,
        channel="web",
        priority=priority,
        category=category,
        policy=POLICY,
        at=MONDAY_10,
    )


def later(**delta: float) -> datetime:
    return MONDAY_10 + timedelta(**delta)


def act(ticket: Ticket, action: Action, at: datetime = MONDAY_10) -> None:
    """Run ``action`` with plausible arguments."""
    match action:
        case Action.ASSIGN:
            ticket.assign(assignee="bob", by="lead", at=at)
        case Action.START_WORK:
            ticket.start_work(by="bob", at=at)
        case Action.WAIT_ON_CUSTOMER:
            ticket.wait_on_customer(by="bob", at=at)
        case Action.ESCALATE:
            ticket.escalate(reason="complaint", by="bob", at=at)
        case Action.RESOLVE:
            ticket.resolve(resolution="Fixed", by="bob", at=at)
        case Action.REOPEN:
            ticket.reopen(by="bob", at=at)
        case Action.CLOSE:
            ticket.close(by="bob", at=at)
        case Action.REPLY:
            ticket.reply(message_id=uuid4(), body="Hello", by="bob", at=at)
        case Action.ADD_NOTE:
            ticket.add_note(message_id=uuid4(), body="Note", by="bob", at=at)
        case Action.RATE:
            ticket.rate(rating=5, by="survey", at=at)
        case Action.RECLASSIFY:
            ticket.reclassify(category="complaint", by="bob", at=at)


# Steps that bring a new ticket into each status (assigned on the way, when it can be).
PATHS: dict[Status, list[Action]] = {
    Status.OPEN: [],
    Status.ASSIGNED: [Action.ASSIGN],
    Status.IN_PROGRESS: [Action.ASSIGN, Action.START_WORK],
    Status.WAITING_ON_CUSTOMER: [Action.ASSIGN, Action.WAIT_ON_CUSTOMER],
    Status.ESCALATED: [Action.ASSIGN, Action.ESCALATE],
    Status.RESOLVED: [Action.ASSIGN, Action.RESOLVE],
    Status.CLOSED: [Action.ASSIGN, Action.RESOLVE, Action.CLOSE],
    Status.REOPENED: [Action.ASSIGN, Action.RESOLVE, Action.REOPEN],
}


def in_status(status: Status) -> Ticket:
    ticket = opened()
    for step in PATHS[status]:
        act(ticket, step)
    assert ticket.status is status
    return ticket


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_every_command_is_allowed_exactly_from_its_statuses(status: Status, action: Action) -> None:
    ticket = in_status(status)
    version = ticket.version
    if status in ALLOWED_FROM[action]:
        act(ticket, action)
        assert ticket.version > version
    else:
        with pytest.raises(TransitionNotAllowed):
            act(ticket, action)
        assert ticket.version == version  # no event on refusal


def test_opening_starts_both_sla_clocks_in_business_hours() -> None:
    ticket = opened()
    assert ticket.status is Status.OPEN
    assert ticket.pending_deadlines() == {
        SlaTarget.FIRST_RESPONSE: later(days=1),  # 8h: Monday 10-17, Tuesday 9-10
        SlaTarget.RESOLUTION: later(days=7),  # 40h: the next Monday, 10:00
    }


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("subject", {"subject": "  "}),
        ("description", {"description": "x" * 20_001}),
        ("priority", {"priority": "whenever"}),
        ("category", {"category": "rant"}),
        ("channel", {"channel": "pigeon"}),
    ],
)
def test_opening_refuses_bad_input_naming_the_field(field: str, overrides: dict) -> None:
    arguments = {
        "customer_id": uuid4(),
        "organization_id": None,
        "subject": "Subject",
        "description": "Description",
        "requester_email": None,
        "channel": "web",
        "priority": "normal",
        "category": "question",
        "policy": POLICY,
        "at": MONDAY_10,
    }
    with pytest.raises(RuleViolation) as refused:
        Ticket.open(uuid4(), **{**arguments, **overrides})
    assert refused.value.field == field


def test_the_first_agent_reply_meets_the_first_response_target() -> None:
    ticket = opened()
    ticket.reply(message_id=uuid4(), body="Looking", by="bob", at=later(hours=1))
    ticket.reply(message_id=uuid4(), body="Still", by="bob", at=later(hours=2))

    assert ticket.first_response_at == later(hours=1)
    assert set(ticket.pending_deadlines()) == {SlaTarget.RESOLUTION}


def test_a_customer_reply_is_no_first_response_and_notes_are_private() -> None:
    ticket = opened()
    ticket.reply(message_id=uuid4(), body="Any news?", by=None, at=later(hours=1), channel="email")
    ticket.add_note(message_id=uuid4(), body="VIP", by="bob", at=later(hours=1))

    assert ticket.first_response_at is None
    assert [m.public for m in ticket.messages.values()] == [True, False]


def test_waiting_on_the_customer_pauses_the_clocks_until_they_answer() -> None:
    ticket = opened()
    act(ticket, Action.ASSIGN)
    act(ticket, Action.WAIT_ON_CUSTOMER, later(hours=1))
    assert ticket.pending_deadlines() == {}

    # The customer answers a day later: the deadlines move by one working day.
    ticket.reply(
        message_id=uuid4(), body="Here", by=None, at=later(days=1, hours=1), channel="email"
    )

    assert ticket.status is Status.IN_PROGRESS
    assert ticket.pending_deadlines()[SlaTarget.FIRST_RESPONSE] == later(days=2)


def test_a_customer_answer_reopens_a_resolved_ticket_and_its_resolution_clock() -> None:
    ticket = opened()
    act(ticket, Action.RESOLVE, later(hours=1))
    ticket.reply(
        message_id=uuid4(), body="Still broken", by=None, at=later(hours=3), channel="email"
    )

    assert ticket.status is Status.REOPENED
    assert ticket.reopen_count == 1
    assert ticket.pending_deadlines() == {SlaTarget.RESOLUTION: later(days=7, hours=2)}


def test_a_breach_is_recorded_once_and_only_when_due() -> None:
    ticket = opened(priority="urgent")  # 30 minutes to respond
    assert not ticket.record_breach(SlaTarget.FIRST_RESPONSE, now=later(minutes=29))
    assert ticket.record_breach(SlaTarget.FIRST_RESPONSE, now=later(minutes=31))
    assert not ticket.record_breach(SlaTarget.FIRST_RESPONSE, now=later(minutes=45))

    assert ticket.breaches == {SlaTarget.FIRST_RESPONSE: later(minutes=30)}
    assert set(ticket.pending_deadlines()) == {SlaTarget.RESOLUTION}


def test_no_breach_of_a_met_or_paused_target() -> None:
    ticket = opened(priority="urgent")
    act(ticket, Action.REPLY, later(minutes=10))
    act(ticket, Action.WAIT_ON_CUSTOMER, later(minutes=20))

    assert not ticket.record_breach(SlaTarget.FIRST_RESPONSE, now=later(days=3))
    assert not ticket.record_breach(SlaTarget.RESOLUTION, now=later(days=3))


def test_escalation_raises_the_priority_to_at_least_high() -> None:
    low, urgent = opened("low"), opened("urgent")
    act(low, Action.ESCALATE)
    act(urgent, Action.ESCALATE)
    assert (low.priority.value, urgent.priority.value) == ("high", "urgent")


def test_the_survey_is_answered_once_with_a_rating_from_1_to_5() -> None:
    ticket = in_status(Status.RESOLVED)
    with pytest.raises(RuleViolation) as refused:
        ticket.rate(rating=6, by="survey", at=MONDAY_10)
    assert refused.value.field == "rating"

    ticket.rate(rating=2, comment="Slow", by="survey", at=MONDAY_10)
    with pytest.raises(TransitionNotAllowed):
        ticket.rate(rating=5, by="survey", at=MONDAY_10)
    assert (ticket.rating, ticket.rating_comment) == (2, "Slow")


def test_a_start_before_assignment_is_refused() -> None:
    ticket = opened()
    act(ticket, Action.RESOLVE)
    act(ticket, Action.REOPEN)
    with pytest.raises(TransitionNotAllowed):
        act(ticket, Action.START_WORK)


def test_erasing_the_requester_forgets_their_texts_once() -> None:
    ticket = opened()
    act(ticket, Action.REPLY)
    assert ticket.erase_requester(at=later(hours=1))
    assert not ticket.erase_requester(at=later(hours=2))

    assert ticket.subject is ticket.description is None
    assert [m.body for m in ticket.messages.values()] == [None]


def test_the_reference_is_short_and_stable() -> None:
    ticket_id = UUID("5b1d2c3e-4f60-4a7b-8c9d-0e1f2a3b4c5d")
    assert (
        Ticket.open(
            ticket_id,
            customer_id=None,
            organization_id=None,
            subject="s",
            description="d",
            requester_email=None,
            channel="email",
            priority="low",
            category="question",
            policy=POLICY,
            at=MONDAY_10,
        ).reference
        == "SD-NPRW2SWSPB"
    )


def test_category_and_priority_change_once_and_the_sla_targets_stay() -> None:
    ticket = opened()
    targets = dict(ticket.targets)

    assert ticket.reclassify(category="complaint", by="bob", at=MONDAY_10)
    assert not ticket.reclassify(category="complaint", priority="normal", by="bob", at=MONDAY_10)
    assert ticket.reclassify(priority="urgent", by="bob", at=MONDAY_10)

    assert (ticket.category, ticket.priority) == ("complaint", "urgent")
    assert ticket.targets == targets
    with pytest.raises(RuleViolation):
        ticket.reclassify(category="gossip", by="bob", at=MONDAY_10)
