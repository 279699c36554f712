"""Marketing's word on consent: an unsubscribe through a message's link, or a call whose outcome
is "do not call", becomes a ``ConsentWithdrawn`` of the person (for marketing, on that channel).

Other events of marketing's topics are not about consent and are passed over. A withdrawal about
an unknown or erased person is skipped, logged and counted, never retried.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import Tracking
from prometheus_client import Counter

from crm_events import Event
from crm_events.marketing import CallOutcome, CampaignCallRecorded, RecipientUnsubscribed

from ..application import ContactsApplication, Feedback, Withdrawal
from ..domain import ConsentSource, ContactChannel

log = logging.getLogger(__name__)

CONSENT_FEEDBACK = Counter(
    "crm_contacts_marketing_withdrawals_total",
    "Consent withdrawals reported by marketing, by what became of them.",
    ["outcome"],
)


def withdrawal_of(event: Event[Any]) -> Withdrawal | None:
    """The withdrawal an event of marketing reports; None for every other event."""
    data = event.data
    if isinstance(data, RecipientUnsubscribed):
        if data.channel not in set(ContactChannel):
            log.warning("unsubscribe %s from an unknown channel %r skipped", event.id, data.channel)
            return None
        how = "one-click unsubscribe" if data.one_click else "unsubscribe link"
        return Withdrawal(
            event_id=event.id,
            customer_id=data.customer_id,
            channel=ContactChannel(data.channel),
            source=ConsentSource.UNSUBSCRIBE_LINK,
            decided_at=data.unsubscribed_at,
            evidence=f"{how} of campaign {data.campaign_id}, message {data.message_id}",
        )
    if isinstance(data, CampaignCallRecorded) and data.outcome is CallOutcome.DO_NOT_CALL:
        return Withdrawal(
            event_id=event.id,
            customer_id=data.customer_id,
            channel=ContactChannel.PHONE,
            source=ConsentSource.CALL,
            decided_at=data.called_at,
            evidence=f"asked {data.agent} not to be called again (campaign {data.campaign_id})",
        )
    return None


def record_withdrawal(
    application: ContactsApplication, event: Event[Any], position: Tracking
) -> None:
    """The reaction to an event on marketing's campaign and campaign-message topics."""
    withdrawal = withdrawal_of(event)
    if withdrawal is None:
        return
    outcome = application.withdraw_consent(position, withdrawal)
    CONSENT_FEEDBACK.labels(outcome.value).inc()
    if outcome in (Feedback.UNKNOWN_CUSTOMER, Feedback.ERASED_CUSTOMER, Feedback.REFUSED):
        log.warning(
            "%s %s about customer %s skipped: %s",
            event.type,
            event.id,
            withdrawal.customer_id,
            outcome.value,
        )
