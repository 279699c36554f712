"""Campaign commands: draft, schedule, launch (materializing the audience), cancel, calls.

Each runs through the platform's command pipeline: the campaign and whatever else the command
changed are saved with the command's receipt in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from crm_platform.commands import Command, Outcome

from ..domain import (
    AudienceProfile,
    Automation,
    AutomationDirectory,
    CallOutcome,
    Campaign,
    CampaignChannel,
    CampaignMessage,
    CampaignResponse,
    EmailContent,
    LaunchCalendar,
    Respondent,
    ResponseKind,
    Status,
    message_id,
)
from ..domain.campaign import Money
from . import templates
from .audience_index import IndexedAudience
from .common import utcnow
from .segments import SegmentCommands

SCHEDULER = "marketing-scheduler"  # the actor of scheduled launches
Change = Callable[[Campaign], Sequence[Aggregate]]


class CampaignCommands(SegmentCommands, IndexedAudience):
    def draft_campaign(
        self,
        command: Command,
        campaign_id: UUID,
        *,
        name: str,
        channel: CampaignChannel,
        purpose: str,
        segment_ids: list[UUID],
        content: EmailContent | None,
        agents: list[str],
        automation: Automation | None = None,
        budget: Money | None = None,
        cost: Money | None = None,
    ) -> Outcome[Campaign]:
        if content is not None:
            templates.check(content.validated())
        for segment_id in segment_ids:
            self.segment(segment_id)  # NotFound names the one missing

        def build() -> list[Aggregate]:
            draft = Campaign.draft(
                campaign_id,
                name=name,
                channel=channel,
                purpose=purpose,
                segment_ids=segment_ids,
                content=content,
                agents=agents,
                created_by=command.actor,
                automation=automation,
                budget=budget,
                cost=cost,
            )
            return [draft]

        return self.create(
            command, "campaign", build, made_before=lambda: self.find(Campaign, campaign_id)
        )

    def campaign(self, campaign_id: UUID) -> Campaign:
        return self.load("campaign", Campaign, campaign_id)

    def schedule_campaign(
        self, command: Command, campaign_id: UUID, launch_at: datetime
    ) -> Outcome[Campaign]:
        def schedule(campaign: Campaign) -> list[Aggregate]:
            campaign.schedule(launch_at, by=command.actor, now=utcnow())
            calendar = self.singleton(LaunchCalendar)
            calendar.add(campaign.id, launch_at)
            return [calendar]

        return self._change(command, campaign_id, schedule)

    def launch_campaign(self, command: Command, campaign_id: UUID) -> Outcome[Campaign]:
        def launch(campaign: Campaign) -> list[Aggregate]:
            now = utcnow()
            others: list[Aggregate] = []
            if campaign.automation is None:
                audience = self.materialize_audience(campaign, now)
                campaign.launch(audience.recipients, audience.excluded, now=now)
            else:  # it starts listening for its trigger
                campaign.launch((), 0, now=now)
                directory = self.singleton(AutomationDirectory)
                directory.add(campaign.id, campaign.automation["trigger"])
                others.append(directory)
            calendar = self.singleton(LaunchCalendar)
            if calendar.remove(campaign.id):
                others.append(calendar)
            return [*others, *_messages(campaign)]

        return self._change(command, campaign_id, launch)

    def cancel_campaign(
        self, command: Command, campaign_id: UUID, reason: str
    ) -> Outcome[Campaign]:
        def cancel(campaign: Campaign) -> list[Aggregate]:
            campaign.cancel(reason, by=command.actor, now=utcnow())
            registers = (self.singleton(LaunchCalendar), self.singleton(AutomationDirectory))
            return [register for register in registers if register.remove(campaign.id)]

        return self._change(command, campaign_id, cancel)

    def record_call(
        self, command: Command, campaign_id: UUID, customer_id: UUID, outcome: CallOutcome
    ) -> Outcome[Campaign]:
        """A telemarketing call's outcome, recorded by the calling agent (the command's actor);
        an interested customer is a response (a lead for sales, once per campaign and customer),
        one who asks never to be called again is unsubscribed from the phone at once."""

        def call(campaign: Campaign) -> list[Aggregate]:
            now = utcnow()
            campaign.record_call(customer_id, outcome, agent=command.actor, now=now)
            also: list[Aggregate] = []
            response_id = uuid5(campaign.id, f"call:{customer_id}")
            profile = self.find(AudienceProfile, customer_id)
            if outcome.is_response and self.find(CampaignResponse, response_id) is None:
                also.append(
                    CampaignResponse.receive(
                        response_id,
                        campaign.id,
                        ResponseKind.CALL_BACK_REQUEST,
                        _respondent(customer_id, profile),
                        {"call_outcome": outcome.value, "agent": command.actor},
                        at=now,
                    )
                )
            if outcome is CallOutcome.DO_NOT_CALL and profile and profile.unsubscribe("phone", now):
                also.append(profile)
            return also

        return self._change(command, campaign_id, call)

    def due_campaigns(self, now: datetime) -> list[UUID]:
        """The scheduled campaigns whose time has come, earliest first (the worker's scheduler
        launches each)."""
        return self.singleton(LaunchCalendar).due_at(now)

    def launch_scheduled(self, campaign_id: UUID) -> bool:
        """Launch a scheduled campaign; False when it is not scheduled (any more). The launch
        is one command of a fixed id: two schedulers racing launch it once (the second finds
        its receipt)."""
        if self.campaign(campaign_id).status != Status.SCHEDULED:
            return False
        launch = Command(uuid5(campaign_id, "scheduled launch"), SCHEDULER, SCHEDULER)
        self.launch_campaign(launch, campaign_id)
        return True

    def _change(self, command: Command, campaign_id: UUID, change: Change) -> Outcome[Campaign]:
        return self.execute(command, "campaign", lambda: self.campaign(campaign_id), change)


def _respondent(customer_id: UUID, profile: AudienceProfile | None) -> Respondent:
    """Who answered a call, with the contact details marketing knows: enough for sales to make
    a lead of a prospect (sealed with the response's own key, like any respondent's)."""
    if profile is None or profile.erased:
        return Respondent(customer_id=customer_id)
    name = profile.name or {}
    return Respondent(
        customer_id=customer_id,
        given_name=name.get("given_name"),
        family_name=name.get("family_name"),
        email=profile.email,
    )


def _messages(campaign: Campaign) -> list[CampaignMessage]:
    """One queued message per recipient of an e-mail campaign; the last one is marked."""
    if campaign.channel != CampaignChannel.EMAIL:
        return []
    recipients = campaign.recipients
    return [
        CampaignMessage(
            id=message_id(campaign.id, customer_id),
            campaign_id=campaign.id,
            customer_id=customer_id,
            last=i == len(recipients) - 1,
        )
        for i, customer_id in enumerate(recipients)
    ]
