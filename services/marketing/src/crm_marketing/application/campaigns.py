"""Campaign commands: draft, schedule, launch (materializing the audience), cancel, calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError

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
    VersionConflict,
    message_id,
)
from . import templates
from .audience_index import IndexedAudience
from .common import WRITE_ATTEMPTS, Outcome, check_version, utcnow
from .segments import SegmentCommands

SCHEDULER = "marketing-scheduler"


class CampaignCommands(SegmentCommands, IndexedAudience):
    def draft_campaign(
        self,
        campaign_id: UUID,
        *,
        name: str,
        channel: CampaignChannel,
        purpose: str,
        segment_ids: list[UUID],
        content: EmailContent | None,
        agents: list[str],
        created_by: str,
        request_fingerprint: str,
        automation: Automation | None = None,
    ) -> Outcome[Campaign]:
        if content is not None:
            templates.check(content.validated())
        for segment_id in segment_ids:
            self.segment(segment_id)  # NotFound names the one missing

        def build() -> Campaign:
            return Campaign.draft(
                campaign_id,
                name=name,
                channel=channel,
                purpose=purpose,
                segment_ids=segment_ids,
                content=content,
                agents=agents,
                created_by=created_by,
                request_fingerprint=request_fingerprint,
                automation=automation,
            )

        return self.create_once(build, Campaign, campaign_id, request_fingerprint)

    def campaign(self, campaign_id: UUID) -> Campaign:
        return self.load(Campaign, campaign_id, "campaign")

    def schedule_campaign(
        self, campaign_id: UUID, launch_at: datetime, *, by: str, **command: Any
    ) -> Outcome[Campaign]:
        def schedule(campaign: Campaign, now: datetime) -> tuple[Any, ...]:
            campaign.schedule(launch_at, by=by, now=now, **_ids(command))
            calendar = self.launch_calendar()
            calendar.add(campaign.id, campaign.launch_at or launch_at)
            return (calendar,)

        return self._command(campaign_id, schedule, **command)

    def launch_campaign(self, campaign_id: UUID, **command: Any) -> Outcome[Campaign]:
        def launch(campaign: Campaign, now: datetime) -> tuple[Any, ...]:
            others: list[Any] = []
            if campaign.automation is None:
                audience = self.materialize_audience(campaign, now)
                campaign.launch(audience.recipients, audience.excluded, now=now, **_ids(command))
            else:  # it starts listening for its trigger
                campaign.launch((), 0, now=now, **_ids(command))
                directory = self.automation_directory()
                directory.start(campaign.id, campaign.automation["trigger"])
                others.append(directory)
            calendar = self.launch_calendar()
            if calendar.remove(campaign.id):
                others.append(calendar)
            return (*others, *_messages(campaign))

        return self._command(campaign_id, launch, **command)

    def cancel_campaign(
        self, campaign_id: UUID, reason: str, *, by: str, **command: Any
    ) -> Outcome[Campaign]:
        def cancel(campaign: Campaign, now: datetime) -> tuple[Any, ...]:
            campaign.cancel(reason, by=by, now=now, **_ids(command))
            calendar, directory = self.launch_calendar(), self.automation_directory()
            return tuple(
                shared
                for shared, changed in (
                    (calendar, calendar.remove(campaign.id)),
                    (directory, directory.stop(campaign.id)),
                )
                if changed
            )

        return self._command(campaign_id, cancel, **command)

    def record_call(
        self,
        campaign_id: UUID,
        customer_id: UUID,
        outcome: CallOutcome,
        *,
        agent: str,
        **command: Any,
    ) -> Outcome[Campaign]:
        """A telemarketing call's outcome; an interested customer is a response (a lead for
        sales), one who asks never to be called again is unsubscribed from the phone at once."""

        def call(campaign: Campaign, now: datetime) -> tuple[Any, ...]:
            campaign.record_call(customer_id, outcome, agent=agent, now=now, **_ids(command))
            also: list[Any] = []
            if outcome.is_response:
                also.append(
                    CampaignResponse.receive(
                        uuid5(campaign.id, f"call:{customer_id}"),
                        campaign.id,
                        ResponseKind.CALL_BACK_REQUEST,
                        Respondent(customer_id=customer_id),
                        {"call_outcome": outcome.value, "agent": agent},
                        at=now,
                        request_fingerprint=command["request_fingerprint"],
                    )
                )
            profile = self.load_or_none(AudienceProfile, customer_id)
            if outcome is CallOutcome.DO_NOT_CALL and profile and profile.unsubscribe("phone", now):
                also.append(profile)
            return tuple(also)

        return self._command(campaign_id, call, **command)

    def due_campaigns(self, now: datetime) -> list[UUID]:
        """The scheduled campaigns whose time has come, earliest first (the worker's scheduler
        launches each)."""
        return self.launch_calendar().due_at(now)

    def launch_scheduled(self, campaign_id: UUID) -> bool:
        """Launch a scheduled campaign; False when it is not scheduled (any more). The launch
        has a fixed command id: two schedulers racing launch it once."""
        if self.campaign(campaign_id).status != Status.SCHEDULED:
            return False
        self.launch_campaign(
            campaign_id,
            expected_version=None,
            command_id=uuid5(campaign_id, "scheduled launch"),
            request_fingerprint=SCHEDULER,
        )
        return True

    def automation_directory(self) -> AutomationDirectory:
        found = self.load_or_none(AutomationDirectory, AutomationDirectory.ID)
        return found or AutomationDirectory.open()

    def launch_calendar(self) -> LaunchCalendar:
        return self.load_or_none(LaunchCalendar, LaunchCalendar.ID) or LaunchCalendar.open()

    def _command(
        self,
        campaign_id: UUID,
        change: Callable[[Campaign, datetime], tuple[Any, ...]],
        *,
        expected_version: int | None,
        command_id: UUID,
        request_fingerprint: str,
    ) -> Outcome[Campaign]:
        """Load, check the version, apply ``change`` and save the campaign with the other
        aggregates it returns, in one transaction; a retried command is answered as before."""
        for _ in range(WRITE_ATTEMPTS):
            campaign = self.campaign(campaign_id)
            if campaign.replayed(command_id, request_fingerprint):
                return Outcome(campaign, replayed=True)
            check_version(campaign, expected_version)
            others = change(campaign, utcnow())
            try:
                self.save(campaign, *others)
            except IntegrityError:
                continue  # re-read: a replay, a conflict, or a shared aggregate moved on
            return Outcome(campaign, replayed=False)
        raise VersionConflict(campaign_id, expected_version, self.campaign(campaign_id).version)


def _ids(command: dict[str, Any]) -> dict[str, Any]:
    return {k: command[k] for k in ("command_id", "request_fingerprint")}


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
