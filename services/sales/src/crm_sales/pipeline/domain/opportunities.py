"""The Opportunity aggregate: a potential deal moving through the stages of a pipeline.

An opportunity is open until it is won or lost, which closes it for good. Each stage change is
kept in its history (who, when, from, to, probability); the probability defaults to the stage's
and a salesperson may override it. Other services' events can flag an open opportunity at risk
(an escalated ticket on the account) until the risk is cleared.

Events carry the figures the published contract needs (amount, owner, account...), because the
relay translates each stored event on its own, without the aggregate's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ...shared.domain.errors import InvalidState, RuleViolation
from ...shared.domain.values import (
    EVENT_TIME,
    checked_amount,
    currency_code,
    member,
    optional_text,
    percentage,
    required_text,
)
from .partners import PartnerAttribution, PartnerDraft, PartnerLink, registration
from .pipelines import Pipeline, Stage

KIND = "opportunity"
NAME_MAX_LENGTH = 200
UPDATABLE = (
    "name",
    "amount",
    "currency",
    "probability",
    "expected_close_date",
    "owner",
    "account_id",
    "contact_id",
)


class OpportunityStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class LossReason(StrEnum):
    PRICE = "price"
    COMPETITOR = "competitor"
    NO_DECISION = "no_decision"
    NO_BUDGET = "no_budget"
    PRODUCT_FIT = "product_fit"
    TIMING = "timing"
    UNRESPONSIVE = "unresponsive"
    OTHER = "other"


@dataclass(frozen=True)
class StageChange:
    """One step of the history; the first has no ``from_stage_id`` (the opportunity opened)."""

    from_stage_id: str | None
    to_stage_id: str
    to_stage_name: str
    probability: int
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class Risk:
    reason: str
    source_event_id: UUID | None
    flagged_at: datetime


@dataclass(frozen=True)
class Closing:
    reason: str | None
    competitor: str | None
    closed_by: str
    closed_at: datetime


def _close_date(value: date, field: str = "expected_close_date") -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise RuleViolation(field, "must be a date (YYYY-MM-DD)")
    if not 2000 <= value.year <= 2100:
        raise RuleViolation(field, "must be in the years 2000 to 2100")
    return value


class Opportunity(Aggregate):
    id: UUID

    @classmethod
    def open(
        cls,
        opportunity_id: UUID,
        *,
        name: str,
        pipeline: Pipeline,
        amount: Decimal,
        currency: str,
        expected_close_date: date,
        owner: str,
        opened_by: str,
        stage_id: str | None = None,
        probability: int | None = None,
        account_id: UUID | None = None,
        contact_id: UUID | None = None,
        lead_id: UUID | None = None,
    ) -> Opportunity:
        stage = pipeline.open_stage(stage_id)
        opportunity: Opportunity = cls(
            id=opportunity_id,
            name=required_text("name", name, NAME_MAX_LENGTH),
            pipeline_id=pipeline.id,
            stage_id=stage.stage_id,
            stage_name=stage.name,
            probability=stage.probability if probability is None else percentage(probability),
            amount=checked_amount(amount),
            currency=currency_code(currency),
            expected_close_date=_close_date(expected_close_date),
            owner=required_text("owner", owner),
            opened_by=opened_by,
            account_id=account_id,
            contact_id=contact_id,
            lead_id=lead_id,
        )
        return opportunity

    @event("Opened")
    def __init__(
        self,
        name: str,
        pipeline_id: UUID,
        stage_id: str,
        stage_name: str,
        probability: int,
        amount: Decimal,
        currency: str,
        expected_close_date: date,
        owner: str,
        opened_by: str,
        account_id: UUID | None,
        contact_id: UUID | None,
        lead_id: UUID | None,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        self.name = name
        self.pipeline_id = pipeline_id
        self.stage_id = stage_id
        self.probability = probability
        self.amount = amount
        self.currency = currency
        self.expected_close_date = expected_close_date
        self.owner = owner
        self.account_id = account_id
        self.contact_id = contact_id
        self.lead_id = lead_id
        self.status = OpportunityStatus.OPEN
        self.history = [StageChange(None, stage_id, stage_name, probability, opened_by, timestamp)]
        self.risks: dict[str, Risk] = {}
        self.closing: Closing | None = None
        self.partner: PartnerLink | None = None
        self.unknown_customer_id: UUID | None = None

    @property
    def is_open(self) -> bool:
        return self.status is OpportunityStatus.OPEN

    @property
    def at_risk(self) -> bool:
        return bool(self.risks)

    @property
    def closed_on(self) -> date | None:
        return self.closing.closed_at.date() if self.closing else None

    # --- details --------------------------------------------------------------------------------

    def update(self, changes: Mapping[str, Any]) -> bool:
        """Set the given details (keys of UPDATABLE); False (no event) when nothing changes."""
        self._require_open("update")
        if unknown := sorted(set(changes) - set(UPDATABLE)):
            raise RuleViolation(unknown[0], "cannot be changed")
        current = {key: getattr(self, key) for key in UPDATABLE}
        merged = {**current, **changes}
        details = {
            "name": required_text("name", merged["name"], NAME_MAX_LENGTH),
            "amount": checked_amount(merged["amount"]),
            "currency": currency_code(merged["currency"]),
            "probability": percentage(merged["probability"]),
            "expected_close_date": _close_date(merged["expected_close_date"]),
            "owner": required_text("owner", merged["owner"]),
            "account_id": merged["account_id"],
            "contact_id": merged["contact_id"],
        }
        changed = [key for key in UPDATABLE if details[key] != current[key]]
        if not changed:
            return False
        self._updated(changed=changed, **details)
        return True

    @event("Updated")
    def _updated(
        self,
        changed: list[str],
        name: str,
        amount: Decimal,
        currency: str,
        probability: int,
        expected_close_date: date,
        owner: str,
        account_id: UUID | None,
        contact_id: UUID | None,
    ) -> None:
        self.name = name
        self.amount = amount
        self.currency = currency
        self.probability = probability
        self.expected_close_date = expected_close_date
        self.owner = owner
        self.account_id = account_id
        self.contact_id = contact_id

    # --- partner --------------------------------------------------------------------------------

    def register_partner(self, draft: PartnerDraft, *, registered_by: str) -> bool:
        """Register the partner on the deal (replacing another); False when already there."""
        self._require_open("register a partner on")
        attribution = registration(self.partner, draft)
        if attribution is None:
            return False
        self._partner_registered(
            partner_id=draft.partner_id, attribution=attribution.value, registered_by=registered_by
        )
        return True

    @event("PartnerRegistered")
    def _partner_registered(
        self,
        partner_id: UUID,
        attribution: str,
        registered_by: str,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        self.partner = PartnerLink(
            partner_id, PartnerAttribution(attribution), registered_by, timestamp
        )

    # --- the customer named ---------------------------------------------------------------------

    @property
    def customer_known(self) -> bool:
        return self.unknown_customer_id is None

    def flag_customer_unknown(self) -> bool:
        """The contact is a customer no service has heard of; False when already flagged."""
        if self.contact_id is None or self.unknown_customer_id == self.contact_id:
            return False
        self._customer_flagged_unknown(customer_id=self.contact_id, account_id=self.account_id)
        return True

    @event("CustomerFlaggedUnknown")
    def _customer_flagged_unknown(self, customer_id: UUID, account_id: UUID | None) -> None:
        self.unknown_customer_id = customer_id

    def clear_customer_flag(self) -> bool:
        """The customer became known (or is no longer named); False when not flagged."""
        if self.unknown_customer_id is None:
            return False
        self._customer_flag_cleared(customer_id=self.unknown_customer_id)
        return True

    @event("CustomerFlagCleared")
    def _customer_flag_cleared(self, customer_id: UUID) -> None:
        self.unknown_customer_id = None

    # --- stages ---------------------------------------------------------------------------------

    def move_to(
        self, pipeline: Pipeline, stage_id: str, *, changed_by: str, probability: int | None = None
    ) -> bool:
        """Move to an open stage, at its probability unless told; False when already there."""
        self._require_open("move")
        stage = pipeline.open_stage(stage_id)
        chance = stage.probability if probability is None else percentage(probability)
        if (stage.stage_id, chance) == (self.stage_id, self.probability):
            return False
        self._stage_changed(
            pipeline_id=self.pipeline_id,
            from_stage_id=self.stage_id,
            to_stage_id=stage.stage_id,
            to_stage_name=stage.name,
            probability=chance,
            amount=self.amount,
            currency=self.currency,
            expected_close_date=self.expected_close_date,
            changed_by=changed_by,
        )
        return True

    @event("StageChanged")
    def _stage_changed(
        self,
        pipeline_id: UUID,
        from_stage_id: str,
        to_stage_id: str,
        to_stage_name: str,
        probability: int,
        amount: Decimal,
        currency: str,
        expected_close_date: date,
        changed_by: str,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        self._enter(from_stage_id, to_stage_id, to_stage_name, probability, changed_by, timestamp)

    def _enter(
        self,
        from_stage_id: str,
        stage_id: str,
        stage_name: str,
        probability: int,
        changed_by: str,
        at: datetime,
    ) -> None:
        self.history.append(
            StageChange(from_stage_id, stage_id, stage_name, probability, changed_by, at)
        )
        self.stage_id = stage_id
        self.probability = probability

    # --- closing --------------------------------------------------------------------------------

    def win(
        self,
        pipeline: Pipeline,
        *,
        won_by: str,
        reason: str | None = None,
        final_amount: Decimal | None = None,
    ) -> None:
        self._require_open("win")
        self._won(
            pipeline_id=self.pipeline_id,
            from_stage_id=self.stage_id,
            stage=pipeline.won_stage,
            amount=self.amount if final_amount is None else checked_amount(final_amount),
            currency=self.currency,
            owner=self.owner,
            account_id=self.account_id,
            contact_id=self.contact_id,
            reason=optional_text("reason", reason, 500),
            won_by=won_by,
        )

    @event("Won")
    def _won(
        self,
        pipeline_id: UUID,
        from_stage_id: str,
        stage: Stage,
        amount: Decimal,
        currency: str,
        owner: str,
        account_id: UUID | None,
        contact_id: UUID | None,
        reason: str | None,
        won_by: str,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        self.amount = amount
        self._close(OpportunityStatus.WON, stage, Closing(reason, None, won_by, timestamp))

    def lose(
        self, pipeline: Pipeline, *, lost_by: str, reason: str, competitor: str | None = None
    ) -> None:
        self._require_open("lose")
        self._lost(
            pipeline_id=self.pipeline_id,
            from_stage_id=self.stage_id,
            stage=pipeline.lost_stage,
            amount=self.amount,
            currency=self.currency,
            owner=self.owner,
            reason=member(LossReason, reason, "reason").value,
            competitor=optional_text("competitor", competitor),
            lost_by=lost_by,
        )

    @event("Lost")
    def _lost(
        self,
        pipeline_id: UUID,
        from_stage_id: str,
        stage: Stage,
        amount: Decimal,
        currency: str,
        owner: str,
        reason: str,
        competitor: str | None,
        lost_by: str,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        self._close(OpportunityStatus.LOST, stage, Closing(reason, competitor, lost_by, timestamp))

    def _close(self, status: OpportunityStatus, stage: Stage, closing: Closing) -> None:
        self._enter(
            self.stage_id,
            stage.stage_id,
            stage.name,
            stage.probability,
            closing.closed_by,
            closing.closed_at,
        )
        self.status = status
        self.closing = closing
        self.risks = {}  # a closed deal is past risk

    # --- risk -----------------------------------------------------------------------------------

    def flag_at_risk(self, *, reason: str, source_event_id: UUID | None) -> bool:
        """Flag an open opportunity; False when closed, or already flagged for that event."""
        key = str(source_event_id) if source_event_id else reason
        if not self.is_open or key in self.risks:
            return False
        self._flagged_at_risk(
            account_id=self.account_id,
            reason=required_text("reason", reason, 500),
            source_event_id=source_event_id,
        )
        return True

    @event("FlaggedAtRisk")
    def _flagged_at_risk(
        self,
        account_id: UUID | None,
        reason: str,
        source_event_id: UUID | None,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        key = str(source_event_id) if source_event_id else reason
        self.risks[key] = Risk(reason, source_event_id, timestamp)

    def clear_risks(
        self, *, reason: str, cleared_by: str, source_event_id: UUID | None = None
    ) -> bool:
        """Clear every risk; False when there is none."""
        if not self.risks:
            return False
        self._risk_cleared(
            account_id=self.account_id,
            reason=required_text("reason", reason, 500),
            source_event_id=source_event_id,
            cleared_by=cleared_by,
        )
        return True

    @event("RiskCleared")
    def _risk_cleared(
        self, account_id: UUID | None, reason: str, source_event_id: UUID | None, cleared_by: str
    ) -> None:
        self.risks = {}

    def _require_open(self, action: str) -> None:
        if not self.is_open:
            raise InvalidState(KIND, self.id, f"cannot {action} a {self.status} opportunity")
