"""Consent withdrawn in marketing (an unsubscribe link, a "do not call" on a call) recorded on
the person, so that contacts, the source of truth of consent, says so too.

Exactly once per Kafka position (tracking records); a republished event (the same event id, a new
position) derives the same decision id, which the person refuses to record twice. Decisions keep
the time the person made them, so one delivered late does not override a later decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.persistence import Tracking

from ..domain import (
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    ContactChannel,
    Customer,
    RuleViolation,
)
from .people import PeopleCommands

log = logging.getLogger(__name__)

# Decision ids derived from the marketing event's id (a fixed namespace: every worker agrees).
_DECISIONS = UUID("0b7e1f4e-2c1a-4a57-9d0e-6c1f6f0e8a31")
# A merge chain is short; the bound keeps a corrupt cycle from looping forever.
_MAX_MERGE_HOPS = 10


class Feedback(StrEnum):
    """What became of one withdrawal reported by marketing (a metric label)."""

    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    UNKNOWN_CUSTOMER = "unknown_customer"
    ERASED_CUSTOMER = "erased_customer"
    REFUSED = "refused"


@dataclass(frozen=True)
class Withdrawal:
    """A consent withdrawal reported by another service's event ``event_id``."""

    event_id: UUID
    customer_id: UUID
    channel: ContactChannel
    source: ConsentSource
    decided_at: datetime
    evidence: str
    purpose: ConsentPurpose = ConsentPurpose.MARKETING

    @property
    def decision_id(self) -> UUID:
        return uuid5(_DECISIONS, str(self.event_id))


class MarketingConsent(PeopleCommands):
    def withdraw_consent(self, position: Tracking, withdrawal: Withdrawal) -> Feedback:
        """Record the withdrawal on the person (on the survivor of a merged one); an unknown or
        erased person, or a decision the person refuses, is skipped: the position is recorded
        all the same, so its redelivery is not decided again."""
        customer = self._answering_for(withdrawal.customer_id)
        if customer is None or customer.erased_at is not None:
            self.record_reaction(position)
            return Feedback.UNKNOWN_CUSTOMER if customer is None else Feedback.ERASED_CUSTOMER
        if any(c.decision_id == withdrawal.decision_id for c in customer.consents):
            self.record_reaction(position)
            return Feedback.ALREADY_RECORDED
        try:
            customer.record_consent(
                decision_id=withdrawal.decision_id,
                channel=withdrawal.channel,
                purpose=withdrawal.purpose,
                status=ConsentStatus.WITHDRAWN,
                source=withdrawal.source,
                evidence=withdrawal.evidence,
                decided_at=withdrawal.decided_at,
            )
        except RuleViolation as violation:
            log.warning("withdrawal %s refused: %s", withdrawal.event_id, violation)
            self.record_reaction(position)
            return Feedback.REFUSED
        saved = self.record_reaction(position, customer)
        return Feedback.RECORDED if saved else Feedback.ALREADY_RECORDED

    def _answering_for(self, customer_id: UUID) -> Customer | None:
        """The person, or the survivor a merge made answer for them; None if unknown."""
        customer = self.find(Customer, customer_id)
        for _ in range(_MAX_MERGE_HOPS):
            survivor = None if customer is None else customer.merged_into
            if survivor is None:
                return customer
            customer = self.find(Customer, survivor)
        return customer
