"""Invariants of a ticket under any sequence of commands, customer answers and SLA checks."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_service_desk.domain import Action, SlaTarget, TransitionNotAllowed
from crm_service_desk.domain.sla import elapsed
from crm_service_desk.domain.values import PAUSED

from .test_ticket import act, opened

pytestmark = pytest.mark.unit

CUSTOMER_ANSWERS = "customer answers"
SLA_CHECK = "sla check"
STEPS = st.lists(
    st.tuples(
        st.sampled_from([*Action, CUSTOMER_ANSWERS, SLA_CHECK]),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["low", "normal", "high", "urgent"]), STEPS)
def test_clocks_and_breaches_stay_consistent_whatever_happens(priority, steps) -> None:
    ticket = opened(priority)
    at = ticket.opened_at
    breach_events = 0
    for step, wait in steps:
        at += wait
        try:
            if step == SLA_CHECK:
                breach_events += sum(ticket.record_breach(t, now=at) for t in SlaTarget)
            elif step == CUSTOMER_ANSWERS:
                ticket.reply(message_id=uuid4(), body="Hi", by=None, at=at, channel="email")
            else:
                act(ticket, step, at)
        except TransitionNotAllowed:
            pass

        # The clocks stand still exactly while the status says so.
        assert (bool(ticket.pauses) and ticket.pauses[-1][1] is None) == (ticket.status in PAUSED)
        # Pauses are ordered and never overlap.
        bounds = [instant for pause in ticket.pauses for instant in pause if instant is not None]
        assert bounds == sorted(bounds)
        # Each target is breached at most once, and only once it was due.
        assert breach_events == len(ticket.breaches) <= len(SlaTarget)
        for target, due in ticket.breaches.items():
            assert due <= at and target not in ticket.pending_deadlines()
        # A pending deadline is where the running (unpaused) business time reaches the target.
        for target, due in ticket.pending_deadlines().items():
            clock = elapsed(ticket.working_calendar, ticket.opened_at, ticket.pauses, due)
            assert clock == ticket.target(target)


def test_a_ticket_rebuilt_from_its_events_is_the_same() -> None:
    ticket = opened("urgent")
    for action in (Action.ASSIGN, Action.START_WORK, Action.WAIT_ON_CUSTOMER, Action.RESOLVE):
        act(ticket, action, ticket.opened_at + timedelta(minutes=10))
    copy = None
    for domain_event in ticket.collect_events():
        copy = domain_event.mutate(copy)
    assert copy is not None
    assert (copy.status, copy.pauses, copy.first_response_at) == (
        ticket.status,
        ticket.pauses,
        ticket.first_response_at,
    )
