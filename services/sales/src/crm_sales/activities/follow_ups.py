"""Follow-ups marketing asks of sales: tasks for the owner of a customer (run by the worker).

- ``CampaignCallRecorded`` with the outcome ``interested``: the customer's owner gets a task to
  call back within a day. A prospect nobody in sales owns yet becomes a lead instead, by the
  pipeline's own reaction to the call's ``CampaignResponseReceived`` (which carries the
  respondent's contact details); that reaction captures no lead for an owned customer, so a call
  gives a task or a lead, never both.
- ``OwnerTaskRequested``: an automated campaign (a spouse's birthday in 7 days, say) asks for a
  task of the customer's owner, due a day after the customer's e-mail goes out.

The owner is the pipeline's ``owner_of_customer`` (the owner of the customer's latest open
opportunity, as contact then as account, else of their latest opportunity, else of their latest
lead with an owner); a customer without one gets no task (nobody to give it to). Each task's id derives from the event's id, and the
task is saved with the message's position: a redelivery or a republished event creates nothing
twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.marketing import CallOutcome, CampaignCallRecorded, OwnerTaskRequested
from crm_platform.settings import KafkaSettings
from crm_platform.tracking import subscribe_reactions

from .domain.activities import RecordRef, RecordType, TaskPriority

log = logging.getLogger(__name__)

GROUP_ID = "sales.follow-ups"
TOPICS = (CampaignCallRecorded.topic(), OwnerTaskRequested.topic())
FOLLOW_UP_WITHIN = timedelta(days=1)


def subscribe(broker: KafkaBroker, application: Any) -> None:
    subscribe_reactions(
        broker,
        application,
        topics=TOPICS,
        group_id=KafkaSettings().group(GROUP_ID),
        handler=react,
    )


def react(application: Any, event: Event[Any], position: Tracking) -> None:
    """Other events on these topics (other call outcomes, a campaign's life) ask nothing."""
    data = event.data
    if isinstance(data, CampaignCallRecorded) and data.outcome is CallOutcome.INTERESTED:
        task_for_owner(
            application,
            event.id,
            data.customer_id,
            position,
            subject="Call back: interested on a campaign call",
            notes=f"{data.agent} called on campaign {data.campaign_id}: interested.",
            due_in=FOLLOW_UP_WITHIN,
            priority=TaskPriority.HIGH,
        )
    elif isinstance(data, OwnerTaskRequested):
        task_for_owner(
            application,
            event.id,
            data.customer_id,
            position,
            subject=data.subject,
            notes=f"Asked by marketing's campaign {data.campaign_id} ({data.trigger}).",
            due_in=max(data.due_at - datetime.now(UTC), timedelta(0)) + FOLLOW_UP_WITHIN,
            priority=TaskPriority.NORMAL,
        )


def task_for_owner(
    application: Any,
    cause_id: UUID,
    customer_id: UUID,
    position: Tracking,
    *,
    subject: str,
    notes: str,
    due_in: timedelta,
    priority: TaskPriority,
) -> None:
    """The task (once per event) saved with the position; only the position without an owner."""
    owner = application.owner_of_customer(customer_id)
    if owner is None:
        log.info("customer %s has no owner in sales: no follow-up task", customer_id)
        application.record_reaction(position)
        return
    task = application.follow_up_task(
        cause_id=cause_id,
        regarding=RecordRef(RecordType.CUSTOMER, customer_id),
        owner=owner,
        subject=subject,
        notes=notes,
        due_in=due_in,
        priority=priority,
    )
    application.record_reaction(position, *([task] if task else []))
