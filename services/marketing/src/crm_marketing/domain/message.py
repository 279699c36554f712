"""One campaign e-mail to one recipient, and everything that happened to it afterwards.

Its own aggregate (id ``campaign.message_id(campaign, customer)``), so that opens and clicks of
thousands of recipients never contend for one campaign's next version.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .errors import InvalidTransition

REASON_MAX_LENGTH = 1000
QUEUED = "queued"
SENT = "sent"
BOUNCED = "bounced"
SKIPPED = "skipped"


class CampaignMessage(Aggregate):
    id: UUID

    @event("Queued")
    def __init__(self, id: UUID, campaign_id: UUID, customer_id: UUID, last: bool) -> None:
        self.campaign_id = campaign_id
        self.customer_id = customer_id
        # The campaign's last message: once the mailer has dealt with it, the campaign is done.
        self.last = last
        self.status = QUEUED
        self.smtp_message_id: str | None = None
        self.opened_at: datetime | None = None
        self.opens = 0
        self.clicks: list[tuple[str, datetime]] = []
        self.unsubscribed_at: datetime | None = None

    def sent(self, smtp_message_id: str, at: datetime) -> None:
        self._expect_queued()
        self._sent(**self._about(), smtp_message_id=smtp_message_id, sent_at=at)

    @event("Sent")
    def _sent(
        self, campaign_id: UUID, customer_id: UUID, smtp_message_id: str, sent_at: datetime
    ) -> None:
        self.status = SENT
        self.smtp_message_id = smtp_message_id
        self.sent_at = sent_at

    def bounced(self, reason: str, *, permanent: bool, at: datetime) -> None:
        self._expect_queued()
        self._bounced(
            **self._about(), reason=reason[:REASON_MAX_LENGTH], permanent=permanent, bounced_at=at
        )

    @event("Bounced")
    def _bounced(
        self,
        campaign_id: UUID,
        customer_id: UUID,
        reason: str,
        permanent: bool,
        bounced_at: datetime,
    ) -> None:
        self.status = BOUNCED

    def skipped(self, reason: str) -> None:
        """Not sent: the recipient may no longer be contacted (unsubscribed, consent withdrawn,
        erased) or the campaign was cancelled. Private: nothing was sent, nothing to publish."""
        self._expect_queued()
        self._skipped(**self._about(), reason=reason)

    @event("Skipped")
    def _skipped(self, campaign_id: UUID, customer_id: UUID, reason: str) -> None:
        self.status = SKIPPED

    def _about(self) -> dict[str, UUID]:
        """Every event names its campaign and recipient: the published events need them."""
        return {"campaign_id": self.campaign_id, "customer_id": self.customer_id}

    def _expect_queued(self) -> None:
        if self.status != QUEUED:
            raise InvalidTransition(f"the message was {self.status} already")

    # --- what the recipient did -----------------------------------------------------------------

    def open(self, at: datetime) -> bool:
        """Only the first open is an event: images reloaded by a mail client are not news."""
        if self.status != SENT or self.opened_at is not None:
            return False
        self._opened(**self._about(), opened_at=at)
        return True

    @event("Opened")
    def _opened(self, campaign_id: UUID, customer_id: UUID, opened_at: datetime) -> None:
        self.opened_at = opened_at

    def click(self, link: str, url: str, at: datetime) -> bool:
        if self.status != SENT:
            return False
        if self.opened_at is None:
            self._opened(
                **self._about(), opened_at=at
            )  # a click proves the message was opened (images off)
        self._clicked(**self._about(), link=link, url=url, clicked_at=at)
        return True

    @event("LinkClicked")
    def _clicked(
        self, campaign_id: UUID, customer_id: UUID, link: str, url: str, clicked_at: datetime
    ) -> None:
        self.clicks.append((link, clicked_at))

    def unsubscribe(self, channel: str, *, one_click: bool, at: datetime) -> bool:
        if self.unsubscribed_at is not None:
            return False
        self._unsubscribed(
            **self._about(), channel=channel, one_click=one_click, unsubscribed_at=at
        )
        return True

    @event("Unsubscribed")
    def _unsubscribed(
        self,
        campaign_id: UUID,
        customer_id: UUID,
        channel: str,
        one_click: bool,
        unsubscribed_at: datetime,
    ) -> None:
        self.unsubscribed_at = unsubscribed_at
