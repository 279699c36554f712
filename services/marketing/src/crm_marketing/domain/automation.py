"""Event-driven automation: a customer's event starts a delayed send of an automated campaign.

``AutomatedSend`` is the durable promise "send campaign C to customer P at T": recorded with the
reaction to the triggering event (exactly once per event), then fired once when due. Firing is a
state change of this aggregate, so two schedulers (or one restarted mid-way) cannot fire it twice:
the second finds it fired.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .singleton import CampaignRegister

PENDING = "pending"
FIRED = "fired"
DROPPED = "dropped"


def send_id(campaign_id: UUID, trigger_event_id: UUID) -> UUID:
    """One send per automated campaign and triggering event: a redelivery cannot double it."""
    return uuid5(campaign_id, f"trigger:{trigger_event_id}")


class AutomatedSend(Aggregate):
    id: UUID

    @event("Scheduled")
    def __init__(
        self,
        id: UUID,
        campaign_id: UUID,
        customer_id: UUID,
        trigger: str,
        due_at: datetime,
        owner_task: str | None = None,  # published for sales: a task for the customer's owner
    ) -> None:
        self.campaign_id = campaign_id
        self.customer_id = customer_id
        self.trigger = trigger
        self.due_at = due_at
        self.owner_task = owner_task
        self.status = PENDING

    @property
    def message_id(self) -> UUID:
        return uuid5(self.id, "message")

    def fire(self, at: datetime) -> bool:
        if self.status != PENDING:
            return False
        self._fired(fired_at=at)
        return True

    @event("Fired")
    def _fired(self, fired_at: datetime) -> None:
        self.status = FIRED

    def drop(self, reason: str) -> bool:
        """Not sent: the campaign stopped before the send fell due."""
        if self.status != PENDING:
            return False
        self._dropped(reason=reason)
        return True

    @event("Dropped")
    def _dropped(self, reason: str) -> None:
        self.status = DROPPED


class AutomationDirectory(CampaignRegister):
    """The running automated campaigns and their triggers: what each event is checked against.
    Saved together with the campaign when it starts or stops."""

    ID = UUID("7d1e4b2c-0a9f-5e38-b6c4-9a2d1f0e3c57")

    @event("Started")
    def _added(self, campaign_id: UUID, trigger: str) -> None:
        self.entries[campaign_id] = trigger

    @event("Stopped")
    def _removed(self, campaign_id: UUID) -> None:
        del self.entries[campaign_id]

    def listening_to(self, trigger: str) -> list[UUID]:
        return sorted(c for c, t in self.entries.items() if t == trigger)
