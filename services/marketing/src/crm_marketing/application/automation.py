"""Event-driven automation: automated campaigns answering customers' events after a delay.

A reaction to a customer's event (``AudienceLearning.learn``) schedules, in the same transaction
as its tracking record, one ``AutomatedSend`` per running automated campaign listening to that
event whose conditions the customer meets. The scheduler fires them when due (``DueSends``):
firing queues the campaign's message for the mailer, which checks consent once more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError

from ..domain import (
    AudienceProfile,
    AutomatedSend,
    Automation,
    AutomationDirectory,
    Campaign,
    CampaignMessage,
    Status,
    parse_rule,
    send_id,
)
from ..domain.campaign import ANNUAL_DATE, BIRTHDAY
from ..domain.customer_file import days_until
from .campaigns import CampaignCommands


@dataclass(frozen=True)
class Trigger:
    """The event a reaction is to: its type, id (sends are keyed by it) and time."""

    event_type: str
    event_id: UUID
    occurred_at: datetime


class AutomationCommands(CampaignCommands):
    def triggered_sends(
        self,
        profile: AudienceProfile,
        trigger: Trigger,
        now: datetime,
        campaigns: list[Campaign] | None = None,
    ) -> list[AutomatedSend]:
        """The sends the event starts: not for an erased customer, nor twice for one event, nor
        for events from before the campaign started (a replayed history sends nothing)."""
        if profile.erased:
            return []
        sends = []
        if campaigns is None:
            listening = self.singleton(AutomationDirectory).listening_to(trigger.event_type)
            campaigns = [self.campaign(c) for c in listening]
        for campaign in campaigns:
            campaign_id = campaign.id
            if (
                campaign.status != Status.RUNNING
                or campaign.automation is None
                or trigger.occurred_at < campaign.launched_at
            ):
                continue
            automation = Automation.of(campaign.automation)
            conditions = automation.conditions
            if conditions is not None and not parse_rule(conditions).holds(
                profile.attributes(), now
            ):
                continue
            identifier = send_id(campaign_id, trigger.event_id)
            if self.find(AutomatedSend, identifier) is not None:
                continue  # a republished event (same id, new offset)
            sends.append(
                AutomatedSend(
                    id=identifier,
                    campaign_id=campaign_id,
                    customer_id=profile.id,
                    trigger=trigger.event_type,
                    due_at=trigger.occurred_at + automation.delay,
                    owner_task=automation.owner_task,
                )
            )
        return sends

    def annual_date_campaigns(self) -> list[Campaign]:
        """The running automated campaigns an annual date triggers (birthdays and others)."""
        directory = self.singleton(AutomationDirectory)
        listening = directory.listening_to(BIRTHDAY) + directory.listening_to(ANNUAL_DATE)
        return [self.campaign(c) for c in listening]

    def celebrate(self, customer_id: UUID, now: datetime, campaigns: list[Campaign]) -> int:
        """Schedule the sends of ``campaigns`` whose annual date comes for the customer on the
        day of ``now`` (``days_before`` it), due ``delay`` after ``now``; how many. Once per
        campaign, person and day: the send's id names the day, and is stored with the send, so
        another round, a restart or a second worker that day schedules nothing."""
        profile = self.find(AudienceProfile, customer_id)
        if profile is None or profile.erased:
            return 0
        sends = []
        for campaign in campaigns:
            automation = Automation.of(campaign.automation or {})
            if not comes_today(profile.attributes(), automation, now.date()):
                continue
            key = f"{automation.annual_date}:{automation.days_before}:{now.date().isoformat()}"
            trigger = Trigger(automation.trigger, uuid5(profile.id, key), now)
            sends += self.triggered_sends(profile, trigger, now, campaigns=[campaign])
        if not sends:
            return 0
        try:
            self.save(*sends)
        except IntegrityError:
            return 0  # another scheduler scheduled them first
        return len(sends)

    def fire_send(self, identifier: UUID, now: datetime) -> bool:
        """Queue the send's message when it is due and pending; False when it was fired (or
        dropped) before, which makes firing safe to repeat."""
        send = self.find(AutomatedSend, identifier)
        if send is None or send.due_at > now:
            return False
        campaign = self.campaign(send.campaign_id)
        if campaign.status != Status.RUNNING:
            changed = send.drop(f"the campaign is {campaign.status}")
            message = None
        else:
            changed = send.fire(now)
            message = CampaignMessage(
                id=send.message_id,
                campaign_id=send.campaign_id,
                customer_id=send.customer_id,
                last=False,
            )
        if not changed:
            return False
        try:
            self.save(send, *([message] if message else []))
        except IntegrityError:
            return False  # another scheduler fired it first
        return message is not None


def comes_today(attributes: Mapping[str, Any], automation: Automation, today: date) -> bool:
    """Whether the automation's annual date falls ``days_before`` days after ``today`` (those
    on 29 February fall on the 28th in other years)."""
    dates = attributes.get(automation.annual_date or "") or ()
    return any(days_until(day, today) == automation.days_before for day in dates)
