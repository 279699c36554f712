"""The mailer: sends each queued campaign message through SMTP, at a limited rate.

It follows the application's own notification log (like an eventsourcing process application
following itself) and reads only ``CampaignMessage.Queued`` notifications. The outcome of each
(sent, bounced or skipped) is saved with the notification's position as a tracking record, so
after a restart the mailer goes on after the last message it dealt with.

Delivery is at least once: a crash between the SMTP server's acceptance and the recording of
the outcome sends that one message again after the restart. Its ``Message-ID`` is fixed (the
message aggregate's id), so mail systems and people can recognise the duplicate. Run one mailer
per database (the worker's single replica).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from uuid import UUID

import aiosmtplib
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.utils import get_topic

from ..domain import AudienceProfile, CampaignChannel, CampaignMessage, Status
from ..domain.message import QUEUED
from .common import utcnow
from .templates import RenderFailed, render
from .tokens import TrackingLinks

log = logging.getLogger(__name__)

MAILER = "marketing-mailer"
QUEUED_TOPIC = get_topic(CampaignMessage.Queued)  # type: ignore[attr-defined]
BATCH = 100


class PermanentFailure(Exception):
    """The SMTP server refused the message for good (5xx): a hard bounce."""


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message over; ``PermanentFailure`` for a 5xx refusal, any other exception
        for a failure worth retrying (a 4xx answer, a lost connection)."""


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    use_tls: bool = False  # implicit TLS (port 465)
    start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                username=self.username,
                password=self.password,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(str(error)) from error
            raise
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:
                raise PermanentFailure(f"{error.code} {error.message}") from error
            raise


@dataclass
class Mailer:
    application: Any  # MarketingApplication (not imported: it imports this module's package)
    sender: EmailSender
    links: TrackingLinks
    from_address: str
    messages_per_second: float = 10.0
    poll_seconds: float = 1.0

    async def run(self, stop: asyncio.Event) -> None:
        """The worker's background loop; a failed send is retried after a pause."""
        while not stop.is_set():
            try:
                handled = await self.step()
            except Exception:
                log.exception("sending failed; retrying in %.0fs", 5 * self.poll_seconds)
                handled = 0
                await _sleep(stop, 5 * self.poll_seconds)
            if not handled:
                await _sleep(stop, self.poll_seconds)

    async def step(self) -> int:
        """Deal with the queued messages after the last recorded position; how many."""
        notifications = await asyncio.to_thread(self._next)
        pause = 1.0 / self.messages_per_second
        for notification in notifications:
            started = asyncio.get_running_loop().time()
            await self.deliver(notification)
            elapsed = asyncio.get_running_loop().time() - started
            if elapsed < pause:
                await asyncio.sleep(pause - elapsed)
        return len(notifications)

    def _next(self) -> Sequence[Notification]:
        after = self.application.recorder.max_tracking_id(MAILER) or 0
        return self.application.recorder.select_notifications(
            start=after, limit=BATCH, topics=[QUEUED_TOPIC], inclusive_of_start=False
        )

    async def deliver(self, notification: Notification) -> None:
        position = Tracking(application_name=MAILER, notification_id=notification.id)
        message, email = await asyncio.to_thread(self._prepare, notification.originator_id)
        if message.status != QUEUED:
            await asyncio.to_thread(self._record, position, message)
            return
        if isinstance(email, str):
            await asyncio.to_thread(self._record, position, message, skip_reason=email)
            return
        try:
            await self.sender.send(email)
        except PermanentFailure as refusal:
            message.bounced(str(refusal), permanent=True, at=utcnow())
        else:
            message.sent(str(email["Message-ID"]), at=utcnow())
        await asyncio.to_thread(self._record, position, message)

    def _prepare(self, message_id: UUID) -> tuple[CampaignMessage, EmailMessage | str]:
        """The message aggregate and its e-mail, or why it is not to be sent."""
        app = self.application
        message: CampaignMessage = app.message(message_id)
        campaign = app.campaign(message.campaign_id)
        profile: AudienceProfile | None = app.load_or_none(AudienceProfile, message.customer_id)
        channel = CampaignChannel.EMAIL.contact_channel
        if campaign.status == Status.CANCELLED:
            return message, "campaign cancelled"
        if profile is None or not profile.may_receive(channel, campaign.purpose):
            return message, "no longer reachable (unsubscribed, consent withdrawn or erased)"
        if not profile.email:
            return message, "no e-mail address"
        try:
            return message, self.compose(message, campaign, profile)
        except RenderFailed as failed:  # a branch the drafting render did not take
            return message, f"its template failed to render: {failed}"

    def compose(
        self, message: CampaignMessage, campaign: Any, profile: AudienceProfile
    ) -> EmailMessage:
        """One recipient's e-mail: personalized, its links tracked, with the open pixel and the
        List-Unsubscribe headers."""
        name = profile.name or {}
        unsubscribe_url = self.links.unsubscribe_url(message.id)
        rendered = render(
            campaign.email_content,
            given_name=name.get("given_name"),
            family_name=name.get("family_name"),
            link=lambda link: self.links.click_url(message.id, link),
            unsubscribe_url=unsubscribe_url,
        )
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = profile.email
        email["Subject"] = rendered.subject
        email["Date"] = format_datetime(utcnow())
        email["Message-ID"] = f"<{message.id}@{self.from_address.rpartition('@')[2]}>"
        # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs at once.
        email["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(rendered.text)
        email.add_alternative(
            _with_pixel(rendered.html, self.links.open_url(message.id)), subtype="html"
        )
        return email

    def _record(self, position: Tracking, message: CampaignMessage, skip_reason: str = "") -> None:
        if skip_reason:
            message.skipped(skip_reason)
        finished = []
        if message.last:
            campaign = self.application.campaign(message.campaign_id)
            if campaign.complete(utcnow()):
                finished.append(campaign)
        self.application.record_reaction(position, message, *finished)


def _with_pixel(html: str, url: str) -> str:
    pixel = f'<img src="{url}" width="1" height="1" alt="" style="display:none">'
    at = html.lower().rfind("</body>")
    return html + pixel if at < 0 else html[:at] + pixel + html[at:]


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
