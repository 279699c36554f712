"""What recipients and respondents do: opens, clicks, unsubscribes and responses.

Most come from public endpoints (a mail client, a web form), without a key: each is idempotent
by nature, an open is news once, an unsubscribe once, a form once per submission id. A response
recorded by staff is a keyed command of the platform's pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError

from crm_platform.commands import Command, Outcome

from ..domain import (
    AudienceProfile,
    CampaignChannel,
    CampaignMessage,
    CampaignResponse,
    InvalidTransition,
    NotFound,
    Respondent,
    ResponseKind,
    Status,
)
from .campaigns import CampaignCommands
from .common import WRITE_ATTEMPTS, utcnow


class EngagementCommands(CampaignCommands):
    def message(self, message_id: UUID) -> CampaignMessage:
        return self.load("message", CampaignMessage, message_id)

    def record_open(self, message_id: UUID) -> bool:
        return self._on_message(message_id, lambda m, now: (m.open(now), ()))

    def record_click(self, message_id: UUID, link: str) -> str:
        """The URL the campaign gave ``link``: the only place the redirect may lead. A click on
        an offer link is also a response (once per message and link)."""
        target: list[str] = []

        def click(message: CampaignMessage, now: datetime) -> tuple[bool, tuple[Any, ...]]:
            campaign = self.campaign(message.campaign_id)
            content = campaign.email_content
            if content is None or link not in content.links:
                raise NotFound("link", link)
            target[:] = [content.links[link]]
            if not message.click(link, target[0], now):
                return False, ()
            response_id = uuid5(message.id, f"offer:{link}")
            if link not in content.offer_links or self.find(CampaignResponse, response_id):
                return True, ()
            response = CampaignResponse.receive(
                response_id,
                campaign.id,
                ResponseKind.OFFER_CLICK,
                Respondent(customer_id=message.customer_id),
                {"link": link},
                at=now,
            )
            return True, (response,)

        self._on_message(message_id, click)
        return target[0]

    def unsubscribe(self, message_id: UUID, *, one_click: bool) -> bool:
        """Honoured at once: the profile is unsubscribed in the same transaction, so the
        mailer skips this person from now on, in this campaign and every later one."""

        def unsubscribe(message: CampaignMessage, now: datetime) -> tuple[bool, tuple[Any, ...]]:
            channel = CampaignChannel.EMAIL.contact_channel
            profile = self.find(AudienceProfile, message.customer_id)
            changed_profile = profile is not None and profile.unsubscribe(channel, now)
            changed = message.unsubscribe(channel, one_click=one_click, at=now)
            return changed or changed_profile, (profile,) if changed_profile else ()

        return self._on_message(message_id, unsubscribe)

    def record_response(
        self,
        command: Command,
        response_id: UUID,
        campaign_id: UUID,
        kind: ResponseKind,
        respondent: Respondent,
        answers: dict[str, Any],
    ) -> Outcome[CampaignResponse]:
        """A response recorded by staff, to a running or completed campaign (replies come in
        late)."""
        build = self._response(response_id, campaign_id, kind, respondent, answers)
        return self.create(
            command,
            "response",
            lambda: [build()],
            made_before=lambda: self.find(CampaignResponse, response_id),
        )

    def receive_form(
        self,
        submission_id: UUID,
        campaign_id: UUID,
        respondent: Respondent,
        answers: dict[str, Any],
    ) -> bool:
        """A web form's submission, recorded once per submission id (the response's id, chosen
        by the page): a resubmission is accepted and changes nothing. False when not recorded."""
        build = self._response(
            submission_id, campaign_id, ResponseKind.FORM_SUBMISSION, respondent, answers
        )
        if self.find(CampaignResponse, submission_id) is not None:
            return False
        try:
            self.save(build())
        except IntegrityError:
            return False  # the id was taken meanwhile (the same submission, most likely): it stands
        return True

    def _response(
        self,
        response_id: UUID,
        campaign_id: UUID,
        kind: ResponseKind,
        respondent: Respondent,
        answers: dict[str, Any],
    ) -> Callable[[], CampaignResponse]:
        """Builds the response, once the campaign is found taking responses."""
        campaign = self.campaign(campaign_id)
        if campaign.status not in (Status.RUNNING, Status.COMPLETED):
            raise InvalidTransition(f"a {campaign.status} campaign takes no responses")
        return lambda: CampaignResponse.receive(
            response_id, campaign_id, kind, respondent, answers, at=utcnow()
        )

    def _on_message(self, message_id: UUID, change: Any) -> bool:
        for _ in range(WRITE_ATTEMPTS):
            message = self.message(message_id)
            changed, others = change(message, utcnow())
            if not changed:
                return False
            try:
                self.save(message, *others)
            except IntegrityError:
                continue
            return True
        return False  # others kept changing it: the recipient's repeat will land
