"""Sales reactions of the activities area: customer erasure and ticket escalation, exactly once,
on PostgreSQL (they find what they change in the pipeline and activity indexes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import TopicError, get_topic

from crm_events import Event
from crm_events.contacts import CustomerErased
from crm_events.erasure import CustomerErasureConfirmed
from crm_events.service_desk import EscalationReason, TicketEscalated, TicketPriority
from crm_platform.erasure import erasure_record_id
from crm_platform.relay import integration_event
from crm_platform.tracking import kafka_position
from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.application.index import ActivityFilter
from crm_sales.activities.domain.activities import ActivityKind, RecordRef, RecordType, TaskPriority
from crm_sales.activities.messaging import GROUP_ID, react
from crm_sales.application import SalesApplication
from crm_sales.contracts import translate
from crm_sales.pipeline.application.commands import LeadDetails, OpportunityDraft
from crm_sales.pipeline.application.index import LeadFilter, OpportunityFilter
from crm_sales.pipeline.domain.leads import Lead
from crm_sales.shared.application.store import Command

pytestmark = pytest.mark.integration

ACCOUNT = UUID("7d0c8a3e-2b61-4f0e-8a57-7f3e2c9b1d44")
CUSTOMER = UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10")


@pytest.fixture
def app(empty_app: SalesApplication) -> SalesApplication:
    return empty_app


def command(actor: str = "bob") -> Command:
    return Command(uuid4(), "f", actor)


def incoming(data: Any, source: str) -> Event[Any]:
    now = datetime.now(UTC)
    origin = SimpleNamespace(originator_id=uuid4(), originator_version=3, timestamp=now)
    return integration_event(data, origin, None, source_service=source)


def escalation(priority: TicketPriority = TicketPriority.URGENT) -> Event[Any]:
    data = TicketEscalated(
        ticket_id=uuid4(),
        customer_id=CUSTOMER,
        organization_id=ACCOUNT,
        priority=priority,
        reason=EscalationReason.SLA_BREACH,
        escalated_at=datetime.now(UTC),
    )
    return incoming(data, "service-desk")


def position(offset: int) -> Any:
    return kafka_position(GROUP_ID, TicketEscalated.topic(), 0, offset)


def deal_draft(owner: str | None = None, account_id: UUID | None = None) -> OpportunityDraft:
    return OpportunityDraft(
        name="Renewal",
        amount=Decimal("12000"),
        currency="EUR",
        expected_close_date=date.today() + timedelta(days=30),
        owner=owner,
        account_id=account_id,
    )


def open_deal(app: SalesApplication, owner: str, account_id: UUID = ACCOUNT) -> UUID:
    return app.open_opportunity(command(owner), deal_draft(owner, account_id)).value.id


def follow_ups(app: SalesApplication) -> list[Any]:
    return app.list_activities(ActivityFilter(kind=ActivityKind.TASK)).items


def test_an_escalated_ticket_puts_the_accounts_deals_at_risk_with_a_follow_up_each(
    app: SalesApplication,
) -> None:
    deals = {open_deal(app, "bob"): "bob", open_deal(app, "carol"): "carol"}
    elsewhere = open_deal(app, "dave", account_id=uuid4())
    event = escalation()

    react(app, event, position(0))

    tasks = follow_ups(app)
    assert {(t.regarding.id, t.owner) for t in tasks} == set(deals.items())
    assert all(t.regarding.type is RecordType.OPPORTUNITY for t in tasks)
    assert all(t.priority is TaskPriority.HIGH for t in tasks)
    assert all(t.due_at <= datetime.now(UTC) + timedelta(hours=4) for t in tasks)
    assert all(app.get_opportunity(deal).at_risk for deal in deals)
    assert not app.get_opportunity(elsewhere).at_risk
    assert app.processed(position(0))


def test_a_redelivered_or_republished_escalation_changes_nothing_more(
    app: SalesApplication,
) -> None:
    deal = open_deal(app, "bob")
    event = escalation(TicketPriority.NORMAL)
    react(app, event, position(0))
    stored = len(app.recorder.select_notifications(start=1, limit=100))

    react(app, event, position(0))  # redelivered: the same offset
    react(app, event, position(5))  # republished by the relay: a new offset, the same event

    assert len(app.recorder.select_notifications(start=1, limit=100)) == stored
    [task] = follow_ups(app)
    assert (task.regarding.id, task.priority) == (deal, TaskPriority.NORMAL)


def test_an_escalation_on_an_account_without_open_deals_is_recorded_as_seen(
    app: SalesApplication,
) -> None:
    react(app, escalation(), position(0))
    assert follow_ups(app) == []
    assert app.processed(position(0))


def test_an_erased_customer_is_forgotten_by_leads_and_activities(app: SalesApplication) -> None:
    lead = app.capture_lead(command(), LeadDetails(family_name="Lovelace", customer_id=CUSTOMER))
    draft = ActivityDraft(
        kind="call",
        subject="Call Ada Lovelace",
        regarding=RecordRef(RecordType.CUSTOMER, CUSTOMER),
        due_at=datetime.now(UTC) + timedelta(hours=1),
    )
    call = app.schedule_activity(command(), draft).value
    erased = incoming(CustomerErased(customer_id=CUSTOMER, erased_at=datetime.now(UTC)), "contacts")
    at = kafka_position(GROUP_ID, CustomerErased.topic(), 1, 9)

    react(app, erased, at)

    assert app.get_activity(call.id).subject is None
    assert app.get_activity(call.id).erased_at is not None
    assert app.get_lead(lead.value.id).erased_at is not None
    assert app.processed(at)


def about(app: SalesApplication, record: RecordRef, subject: str = "Call Ada Lovelace") -> UUID:
    """An activity about ``record``, with a subject and notes that name the person."""
    draft = ActivityDraft(
        kind="call",
        subject=subject,
        notes="She asked about her divorce settlement",
        regarding=record,
        due_at=datetime.now(UTC) + timedelta(hours=1),
    )
    return app.schedule_activity(command(), draft).value.id


def assert_blind(app: SalesApplication, *activity_ids: UUID) -> None:
    for activity_id in activity_ids:
        activity = app.get_activity(activity_id)
        assert (activity.subject, activity.notes) == (None, None)
        assert activity.erased_at is not None
        assert app.personal_data_keys.is_destroyed(activity_id)


def test_an_erasure_blinds_the_activities_about_the_customer_their_leads_and_deals_then_confirms(
    app: SalesApplication,
) -> None:
    lead = app.capture_lead(command(), LeadDetails(family_name="Lovelace", customer_id=CUSTOMER))
    converted = app.convert_lead(command(), lead.value.id, deal_draft(), customer_id=CUSTOMER)
    deal = converted.value.conversion.opportunity_id
    on_account = open_deal(app, "carol", account_id=CUSTOMER)
    activities = [
        about(app, RecordRef(RecordType.CUSTOMER, CUSTOMER)),
        about(app, RecordRef(RecordType.LEAD, lead.value.id)),
        about(app, RecordRef(RecordType.OPPORTUNITY, deal)),
        about(app, RecordRef(RecordType.OPPORTUNITY, on_account)),
    ]
    someone_elses = about(app, RecordRef(RecordType.OPPORTUNITY, open_deal(app, "dave")), "Demo")

    at = erased_by_reaction(app, 9)

    assert_blind(app, *activities)
    assert app.get_activity(someone_elses).subject == "Demo"
    assert app.processed(at)
    order = [n.originator_id for n in app.recorder.select_notifications(start=1, limit=1000)]
    confirmed = order.index(erasure_record_id(CUSTOMER))
    assert max(i for i, aggregate in enumerate(order) if aggregate in activities) < confirmed

    erased_by_reaction(app, 9)  # redelivered
    erased_by_reaction(app, 12)  # republished: a new position

    assert len(app.recorder.select_notifications(start=1, limit=1000)) == len(order)


def test_a_leads_erasure_blinds_the_activities_about_it_even_when_retried(
    app: SalesApplication,
) -> None:
    details = LeadDetails(family_name="Lovelace", email="ada@example.org")
    lead = app.capture_lead(command(), details).value.id
    call = about(app, RecordRef(RecordType.LEAD, lead))
    other = about(app, RecordRef(RecordType.LEAD, uuid4()), "Call Grace Hopper")
    half_done = app.get_lead(lead)  # erased by a process that stopped before its activities
    half_done.erase()
    app.save(half_done)

    assert app.erase_lead(lead) is False  # the lead was erased before; its activities are now

    assert_blind(app, call)
    assert app.get_activity(other).subject == "Call Grace Hopper"
    stored = len(app.recorder.select_notifications(start=1, limit=1000))
    assert app.erase_lead(lead) is False
    assert len(app.recorder.select_notifications(start=1, limit=1000)) == stored


def published(app: SalesApplication) -> list[Event[Any]]:
    """What the relay would publish from everything recorded so far."""
    return [
        event
        for notification in app.recorder.select_notifications(start=1, limit=1000)
        for event in translate(*app.mapper.decode_with_metadata(notification)) or []
    ]


def test_an_erasure_is_confirmed_once_with_its_reaction(app: SalesApplication) -> None:
    app.capture_lead(command(), LeadDetails(family_name="Lovelace", customer_id=CUSTOMER))
    erased = incoming(CustomerErased(customer_id=CUSTOMER, erased_at=datetime.now(UTC)), "contacts")
    first, republished = (kafka_position(GROUP_ID, CustomerErased.topic(), 1, n) for n in (9, 12))

    react(app, erased, first)
    react(app, erased, republished)  # contacts' relay published it again: a new position

    [confirmed] = [e for e in published(app) if isinstance(e.data, CustomerErasureConfirmed)]
    assert confirmed.data.topic() == "crm.sales.erasure.v1"
    assert (confirmed.data.customer_id, confirmed.data.service) == (CUSTOMER, "sales")
    assert {d.kind for d in confirmed.data.erased} == {"lead", "activity"}
    assert app.processed(republished)


def test_a_customer_unknown_to_sales_is_confirmed_too(app: SalesApplication) -> None:
    """Holding nothing about the person is a part done: contacts must not wait for sales."""
    someone = uuid4()
    erased = incoming(CustomerErased(customer_id=someone, erased_at=datetime.now(UTC)), "contacts")

    react(app, erased, kafka_position(GROUP_ID, CustomerErased.topic(), 2, 0))

    confirmations = [e.data for e in published(app) if e.type == "CustomerErasureConfirmed"]
    assert [c.customer_id for c in confirmations] == [someone]


# --- records the read models hold in quarantine ---------------------------------------------------


def held_by_read_models(app: SalesApplication) -> set[str]:
    """The aggregates of the open entries of the lead and activity read models."""
    indexes = (app.pipeline_index, app.activity_index)
    return {e.aggregate_id or "" for i in indexes for e in i.quarantine.list(loop=i.name).items}


def erased_by_reaction(app: SalesApplication, offset: int) -> Any:
    """React to the customer's erasure; the position it was delivered at."""
    erased = incoming(CustomerErased(customer_id=CUSTOMER, erased_at=datetime.now(UTC)), "contacts")
    at = kafka_position(GROUP_ID, CustomerErased.topic(), 1, offset)
    react(app, erased, at)
    return at


def test_an_erasure_reaches_the_lead_and_activity_held_in_quarantine_before_its_confirmation(
    app: SalesApplication,
) -> None:
    # Saved through the application (the API refuses a NUL): neither read model can write them.
    details = LeadDetails(family_name="Love\x00lace", customer_id=CUSTOMER)
    lead = app.capture_lead(command(), details).value.id
    draft = ActivityDraft(
        kind="call",
        subject="Call Ada Lovelace",
        regarding=RecordRef(RecordType.CUSTOMER, CUSTOMER),
        owner="bad\x00owner",
        due_at=datetime.now(UTC) + timedelta(hours=1),
    )
    call = app.schedule_activity(command(), draft).value.id
    assert app.list_leads(LeadFilter(customer_id=CUSTOMER)) == []  # no row to find them by
    assert app.activity_index.regarding(RecordRef(RecordType.CUSTOMER, CUSTOMER)) == []
    assert held_by_read_models(app) == {str(lead), str(call)}

    at = erased_by_reaction(app, 9)

    assert app.get_lead(lead).erased_at is not None
    assert app.get_activity(call).erased_at is not None and app.get_activity(call).subject is None
    assert (app.personal_data_keys.key(lead), app.personal_data_keys.key(call)) == (None, None)
    assert app.processed(at)
    # The confirmation was recorded after the last event of each of them: their erasure.
    order = [n.originator_id for n in app.recorder.select_notifications(start=1, limit=1000)]
    confirmed = order.index(erasure_record_id(CUSTOMER))
    assert max(i for i, aggregate in enumerate(order) if aggregate in {lead, call}) < confirmed


def test_an_erasure_reaches_the_activity_about_a_deal_held_in_quarantine(
    app: SalesApplication,
) -> None:
    deal = open_deal(app, "bad\x00owner", account_id=CUSTOMER)  # no row to find it by
    call = about(app, RecordRef(RecordType.OPPORTUNITY, deal))
    assert app.list_opportunities(OpportunityFilter(account_id=CUSTOMER)) == []
    assert held_by_read_models(app) == {str(deal)}

    at = erased_by_reaction(app, 9)

    assert_blind(app, call)
    assert app.processed(at)


def test_a_held_record_that_cannot_be_loaded_leaves_the_erasure_unconfirmed(
    app: SalesApplication,
) -> None:
    app.capture_lead(command(), LeadDetails(family_name="Lovelace", customer_id=CUSTOMER))
    broken = uuid4()  # whose customer nobody can tell: an event this build cannot read
    app.recorder.insert_events([StoredEvent(broken, 1, f"{get_topic(Lead)}.Gone", b"\xffjunk")])
    app.pipeline_index.catch_up()
    assert held_by_read_models(app) == {str(broken)}

    with pytest.raises(TopicError):  # a record's failure: the consumer retries, then dead-letters
        erased_by_reaction(app, 9)

    assert not app.processed(kafka_position(GROUP_ID, CustomerErased.topic(), 1, 9))
    with pytest.raises(AggregateNotFoundError):  # nothing confirmed
        app.repository.get(erasure_record_id(CUSTOMER))
