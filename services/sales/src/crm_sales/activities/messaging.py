"""Reactions of sales to other services' events, for the activities area (run by the worker).

Each is exactly-once: the application records what it changed together with the Kafka position of
the event (``crm_platform.tracking``), and ids derived from the event id keep a republished event
(a new position) from acting twice.

- ``CustomerErased``: the pipeline forgets the customer, and every activity about the customer,
  one of their leads or one of their opportunities forgets its text: its key is destroyed, so
  subjects and notes go blind in every copy. The erasure is confirmed
  (``CustomerErasureConfirmed`` on ``crm.sales.erasure.v1``) in the transaction that records the
  last of it. Leads, opportunities and activities a read model holds in quarantine are found
  too; one that cannot be loaded leaves the erasure unconfirmed (the message is retried, then
  dead-lettered, and contacts sees the erasure overdue).
- ``TicketEscalated`` on an account with open opportunities: each is flagged at risk and its owner
  gets a follow-up task on it, sooner the more urgent the ticket.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.contacts import CustomerErased
from crm_events.erasure import ErasedData, ErasureMethod
from crm_events.service_desk import TicketEscalated, TicketPriority
from crm_platform.erasure import confirm_erasure
from crm_platform.settings import KafkaSettings
from crm_platform.tracking import subscribe_reactions

from ..pipeline.application.index import OpportunityFilter
from ..pipeline.domain.opportunities import OpportunityStatus
from . import follow_ups
from .domain.activities import RecordRef, RecordType, TaskPriority

GROUP_ID = "sales.activities"
TOPICS = (CustomerErased.topic(), TicketEscalated.topic())

# How soon the owner of an opportunity at risk should follow up, by the ticket's priority.
FOLLOW_UP_WITHIN = {
    TicketPriority.URGENT: timedelta(hours=4),
    TicketPriority.HIGH: timedelta(days=1),
    TicketPriority.NORMAL: timedelta(days=2),
    TicketPriority.LOW: timedelta(days=2),
}
URGENT_TICKETS = {TicketPriority.URGENT, TicketPriority.HIGH}
# What sales makes unreadable about an erased customer: their leads and the activities about them.
ERASED = (
    ErasedData(kind="lead", method=ErasureMethod.KEY_DESTROYED),
    ErasedData(kind="activity", method=ErasureMethod.KEY_DESTROYED),
)


def subscribe(broker: KafkaBroker, application: Any) -> None:
    subscribe_reactions(
        broker,
        application,
        topics=TOPICS,
        group_id=KafkaSettings().group(GROUP_ID),
        handler=react,
    )
    follow_ups.subscribe(broker, application)  # what marketing asks of owners (follow_ups.py)


def react(application: Any, event: Event[Any], position: Tracking) -> None:
    """Other events on these topics (a customer's other events) are none of this area's
    business: they are skipped without a trace, as they change nothing here."""
    if isinstance(event.data, CustomerErased):
        customer_erased(application, event.data, position)
    elif isinstance(event.data, TicketEscalated):
        ticket_escalated(application, event.data, event.id, position)


def customer_erased(application: Any, erased: CustomerErased, position: Tracking) -> None:
    """The leads and the activities about them are saved first (a crash after them only repeats
    no-ops); the activities about the customer and their opportunities, the confirmation (once
    per customer) and the position together, once everything is erased."""
    customer_id = erased.customer_id
    application.forget_customer(customer_id)  # idempotent: leads and their activities erased once
    about = [RecordRef(RecordType.CUSTOMER, customer_id)] + [
        RecordRef(RecordType.OPPORTUNITY, opportunity_id)
        for opportunity_id in application.opportunities_of_customer(customer_id)
    ]
    activities = application.erase_activities_regarding(*about)
    confirmation = confirm_erasure(application, customer_id, ERASED)
    application.record_reaction(position, *activities, *([confirmation] if confirmation else []))


def ticket_escalated(
    application: Any, escalated: TicketEscalated, event_id: UUID, position: Tracking
) -> None:
    """The follow-up tasks are saved first: ids derived from the event make them idempotent, so
    a crash before the flags (recorded with the position) only repeats a no-op."""
    account_id = escalated.organization_id or escalated.customer_id
    at_risk = application.list_opportunities(
        OpportunityFilter(status=OpportunityStatus.OPEN, account_id=account_id)
    )
    reason = f"ticket {escalated.ticket_id} escalated: {escalated.reason}"
    tasks = [
        application.follow_up_task(
            cause_id=event_id,
            regarding=RecordRef(RecordType.OPPORTUNITY, entry.opportunity_id),
            owner=entry.owner,
            subject="Follow up: a support ticket of this account was escalated",
            notes=f"{reason.capitalize()} (priority {escalated.priority}). "
            "Check in with the customer before the deal suffers.",
            due_in=FOLLOW_UP_WITHIN[escalated.priority],
            priority=TaskPriority.HIGH
            if escalated.priority in URGENT_TICKETS
            else TaskPriority.NORMAL,
        )
        for entry in at_risk
    ]
    if new_tasks := [task for task in tasks if task is not None]:
        application.save(*new_tasks)
    application.flag_opportunities_at_risk(
        account_id, reason=reason, source_event_id=event_id, position=position
    )
