"""Event-driven automation: automated campaigns answering customers' events after a delay.

A reaction to a customer's event (``AudienceLearning.learn``) schedules, in the same transaction
as its tracking record, one ``AutomatedSend`` per running automated campaign listening to that
event whose conditions the customer meets. The scheduler fires them when due (``DueSends``):
firing queues the campaign's message for the mailer, which checks consent once more.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
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
                )
            )
        return sends

    def birthday_campaigns(self) -> list[Campaign]:
        """The running automated campaigns that greet people on their birthday."""
        listening = self.singleton(AutomationDirectory).listening_to(BIRTHDAY)
        return [self.campaign(c) for c in listening]

    def greet_on_birthday(self, customer_id: UUID, now: datetime, campaigns: list[Campaign]) -> int:
        """Schedule the customer's greetings of ``campaigns`` if the day of ``now`` is their
        birthday (those born on 29 February are greeted on the 28th in other years), due
        ``delay`` after ``now``; how many. Once a year per campaign and person: the send's id
        names the year, so greeting the same day again schedules nothing."""
        profile = self.find(AudienceProfile, customer_id)
        if profile is None or profile.erased or profile.birthday not in _birthdays(now.date()):
            return 0
        trigger = Trigger(BIRTHDAY, uuid5(profile.id, f"birthday:{now.year}"), now)
        sends = self.triggered_sends(profile, trigger, now, campaigns=campaigns)
        if not sends:
            return 0
        try:
            self.save(*sends)
        except IntegrityError:
            return 0  # another scheduler greeted them first
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


def _birthdays(day: date) -> set[str]:
    """The birthdays ("MM-DD") celebrated on ``day``."""
    days = {day.strftime("%m-%d")}
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        days.add("02-29")
    return days
