"""The mailer: sends each queued campaign message through SMTP, at a limited rate.

The messages waiting are the ``MailQueue``, a pending index (``pending``) of the messages queued
and not yet sent, bounced or skipped. The mailer is a platform ``Loop``: each round takes the
queue's oldest messages and deals with each on its own (``each``), so a message that cannot be
sent for a reason of its own (data no e-mail can hold, say) is quarantined and the others go on;
the SMTP server being away, or refusing the session itself (a 4xx greeting, a failed login), is
a server's failure, waited out without setting any message aside. The outcome (sent, bounced,
skipped) is recorded on the message aggregate, which takes the message out of the queue.

Delivery is at least once: a crash between the SMTP server's acceptance and the recording of
the outcome sends that one message again after the restart. Its ``Message-ID`` is fixed (the
message aggregate's id), so mail systems and people can recognise the duplicate. Run one mailer
per database (the worker's single replica).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property, partial
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from crm_platform.loops import Loop
from crm_platform.mail import PermanentFailure

from ..domain import AudienceProfile, CampaignChannel, CampaignMessage, Status
from ..domain.message import QUEUED
from .common import WRITE_ATTEMPTS, utcnow
from .pending import PendingIndex
from .templates import RenderFailed, render
from .tokens import TrackingLinks

log = logging.getLogger(__name__)

MAILER = "marketing-mailer"
MAIL_QUEUE = "marketing-mail-queue"
BATCH = 100
Outcome = Callable[[CampaignMessage], None]


def _topic(event: str) -> str:
    return get_topic(getattr(CampaignMessage, event))


class EmailSender(Protocol):
    async def deliver(self, message: EmailMessage) -> None:
        """Hand the message over (``crm_platform.mail.SmtpServer``); ``PermanentFailure`` for a
        5xx refusal of the message, a ``ConnectionError`` or ``TimeoutError`` when the server is
        away, any other exception for a refusal of this message worth trying again later."""


class MailQueue(PendingIndex):
    """The messages queued and not yet dealt with, oldest first."""

    name = MAIL_QUEUE
    table = "marketing_mail_queue"
    created = _topic("Queued")
    topics = (created, _topic("Sent"), _topic("Bounced"), _topic("Skipped"))


@dataclass
class Mailer:
    application: Any  # MarketingApplication (not imported: it imports this module's package)
    sender: EmailSender
    links: TrackingLinks
    from_address: str
    messages_per_second: float = 10.0
    poll_seconds: float = 1.0

    @cached_property
    def queue(self) -> MailQueue:
        """The queue, its tables made on first use."""
        queue = MailQueue(self.application)
        queue.create_tables()
        return queue

    def loop(self) -> Loop:
        """The worker's loop sending what is queued (the queue opened on its start)."""
        return Loop(MAILER, self.step, interval=self.poll_seconds, setup=lambda: self.queue)

    async def step(self) -> int:
        """Deal with the oldest queued messages (a batch at most), each at the set rate; how
        many. One that fails is quarantined; the SMTP server being away is raised."""
        return await self.queue.each_due(MAILER, self._paced, limit=BATCH)

    async def _paced(self, message_id: UUID) -> None:
        clock = asyncio.get_running_loop()
        started = clock.time()
        await self.deliver(message_id)
        pause = 1.0 / self.messages_per_second - (clock.time() - started)
        if pause > 0:
            await asyncio.sleep(pause)

    async def deliver(self, message_id: UUID) -> None:
        """Send the message if it is still queued and may be sent, and record the outcome."""
        message, email = await asyncio.to_thread(self._prepare, message_id)
        if message.status != QUEUED:
            return  # dealt with already: the queue had not caught up with it
        if isinstance(email, str):
            outcome: Outcome = partial(CampaignMessage.skipped, reason=email)
        else:
            try:
                await self.sender.deliver(email)
            except PermanentFailure as refusal:
                outcome = partial(
                    CampaignMessage.bounced, reason=str(refusal), permanent=True, at=utcnow()
                )
            else:
                outcome = partial(
                    CampaignMessage.sent, smtp_message_id=str(email["Message-ID"]), at=utcnow()
                )
        await asyncio.to_thread(self._record, message, outcome)

    def _prepare(self, message_id: UUID) -> tuple[CampaignMessage, EmailMessage | str]:
        """The message aggregate and its e-mail, or why it is not to be sent."""
        app = self.application
        message: CampaignMessage = app.message(message_id)
        if message.status != QUEUED:
            return message, "dealt with already"
        campaign = app.campaign(message.campaign_id)
        profile: AudienceProfile | None = app.find(AudienceProfile, message.customer_id)
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
            customer_file=profile.template_values(utcnow().date()),
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

    def _record(self, message: CampaignMessage, outcome: Outcome) -> None:
        """Record the outcome, and the campaign's completion with its last message. Should the
        campaign change meanwhile, the outcome is recorded again on the state read anew (the
        message is never sent twice for it)."""
        for _ in range(WRITE_ATTEMPTS):
            outcome(message)
            finished = []
            if message.last:
                campaign = self.application.campaign(message.campaign_id)
                if campaign.complete(utcnow()):
                    finished.append(campaign)
            try:
                self.application.save(message, *finished)
            except IntegrityError:
                message = self.application.message(message.id)
                if message.status != QUEUED:
                    return  # another mailer recorded it
                continue
            return
        raise IntegrityError(f"the outcome of message {message.id} keeps conflicting")


def _with_pixel(html: str, url: str) -> str:
    pixel = f'<img src="{url}" width="1" height="1" alt="" style="display:none">'
    at = html.lower().rfind("</body>")
    return html + pixel if at < 0 else html[:at] + pixel + html[at:]
