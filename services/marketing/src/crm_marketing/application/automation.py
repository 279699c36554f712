"""Event-driven automation: automated campaigns answering customers' events after a delay.

A reaction to a customer's event (``AudienceLearning.learn``) schedules, in the same transaction
as its tracking record, one ``AutomatedSend`` per running automated campaign listening to that
event whose conditions the customer meets. The scheduler fires them when due (``DueSends``):
firing queues the campaign's message for the mailer, which checks consent once more.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError

from ..domain import (
    AudienceProfile,
    AutomatedSend,
    Automation,
    Campaign,
    CampaignMessage,
    Status,
    parse_rule,
    send_id,
)
from ..domain.campaign import BIRTHDAY
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
            listening = self.automation_directory().listening_to(trigger.event_type)
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
            if self.load_or_none(AutomatedSend, identifier) is not None:
                continue  # a republished event (same id, new offset)
            sends.append(
                AutomatedSend(
                    id=identifier,
                    campaign_id=campaign_id,
                    customer_id=profile.id,
                    trigger=trigger.event_type,
                    due_at=trigger.occurred_at + automation.delay,
                )
            )
        return sends

    def birthday_sends(self, now: datetime) -> int:
        """Schedule the birthday greetings of the day of ``now``, due ``delay`` after ``now``
        (once a year per campaign and person: the send's id names the year, so scanning the
        same day again schedules nothing)."""
        today = now.date()
        listening = [self.campaign(c) for c in self.automation_directory().listening_to(BIRTHDAY)]
        if not listening:
            return 0
        days = {today.strftime("%m-%d")}
        if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
            days.add("02-29")
        scheduled = 0
        for profile in self.known_profiles():
            if profile.erased or profile.birthday not in days:
                continue
            trigger = Trigger(BIRTHDAY, uuid5(profile.id, f"birthday:{today.year}"), now)
            sends = self.triggered_sends(profile, trigger, now, campaigns=listening)
            if sends:
                self.save(*sends)
                scheduled += len(sends)
        return scheduled

    def fire_send(self, identifier: UUID, now: datetime) -> bool:
        """Queue the send's message when it is due and pending; False when it was fired (or
        dropped) before, which makes firing safe to repeat."""
        send = self.load_or_none(AutomatedSend, identifier)
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
