"""What recipients and respondents do: opens, clicks, unsubscribes and responses.

These commands come from public endpoints (a mail client, a web form), so each is safe to repeat:
an open is news once, an unsubscribe once, a response once per id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError

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
from .common import WRITE_ATTEMPTS, Outcome, utcnow


class EngagementCommands(CampaignCommands):
    def message(self, message_id: UUID) -> CampaignMessage:
        return self.load(CampaignMessage, message_id, "message")

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
            if link not in content.offer_links or self.load_or_none(CampaignResponse, response_id):
                return True, ()
            response = CampaignResponse.receive(
                response_id,
                campaign.id,
                ResponseKind.OFFER_CLICK,
                Respondent(customer_id=message.customer_id),
                {"link": link},
                at=now,
                request_fingerprint=f"click:{message.id}:{link}",
            )
            return True, (response,)

        self._on_message(message_id, click)
        return target[0]

    def unsubscribe(self, message_id: UUID, *, one_click: bool) -> bool:
        """Honoured at once: the profile is unsubscribed in the same transaction, so the
        mailer skips this person from now on, in this campaign and every later one."""

        def unsubscribe(message: CampaignMessage, now: datetime) -> tuple[bool, tuple[Any, ...]]:
            channel = CampaignChannel.EMAIL.contact_channel
            profile = self.load_or_none(AudienceProfile, message.customer_id)
            changed_profile = profile is not None and profile.unsubscribe(channel, now)
            changed = message.unsubscribe(channel, one_click=one_click, at=now)
            return changed or changed_profile, (profile,) if changed_profile else ()

        return self._on_message(message_id, unsubscribe)

    def record_response(
        self,
        response_id: UUID,
        campaign_id: UUID,
        kind: ResponseKind,
        respondent: Respondent,
        answers: dict[str, Any],
        *,
        request_fingerprint: str,
    ) -> Outcome[CampaignResponse]:
        """A response to a running or completed campaign (replies come in late)."""
        campaign = self.campaign(campaign_id)
        if campaign.status not in (Status.RUNNING, Status.COMPLETED):
            raise InvalidTransition(f"a {campaign.status} campaign takes no responses")

        def build() -> CampaignResponse:
            return CampaignResponse.receive(
                response_id,
                campaign_id,
                kind,
                respondent,
                answers,
                at=utcnow(),
                request_fingerprint=request_fingerprint,
            )

        return self.create_once(build, CampaignResponse, response_id, request_fingerprint)

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
