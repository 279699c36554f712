"""Consent per channel and purpose: ``ConsentGranted``, ``ConsentWithdrawn``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from crm_platform.web.commands import ConditionalBody, IfMatch, answer, command
from crm_platform.web.idempotency import IdempotencyKey
from crm_platform.web.pages import (
    Position,
    instant_part,
)
from crm_platform.web.types import Instant

from ..application import ContactsApplication
from ..domain import (
    ConsentDecision,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    ContactChannel,
    Sourced,
)
from ..domain.consent import EVIDENCE_MAX_LENGTH
from .common import PERSON_PROBLEM_RESPONSES, SERVICE, Out, Paging, Reader, Writer

CONSENT = "record-consent"


class RecordConsent(ConditionalBody):
    channel: ContactChannel
    purpose: ConsentPurpose
    status: ConsentStatus = Field(description="granted, or withdrawn (refused).")
    source: ConsentSource = Field(description="How the decision reached the business.")
    evidence: str | None = Field(
        default=None,
        max_length=EVIDENCE_MAX_LENGTH,
        description="Proof of the decision: the form's wording, a call note.",
    )
    decided_at: Instant = Field(
        description="When the person decided (may be earlier than now: a paper form)."
    )


class ConsentOut(Out):
    decision_id: UUID
    record_id: UUID = Field(description="The record holding it (a merged duplicate's, or own).")
    channel: ContactChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    source: ConsentSource
    evidence: str | None
    decided_at: datetime
    customer_version: int = Field(description="The record's version after this decision.")

    @classmethod
    def of(cls, record_id: UUID, decision: ConsentDecision) -> ConsentOut:
        return cls.model_validate({"record_id": record_id, **vars(decision)})

    @classmethod
    def each(cls, decisions: Iterable[Sourced[ConsentDecision]]) -> list[ConsentOut]:
        return [cls.of(s.record_id, s.item) for s in decisions]


class ConsentsOut(BaseModel):
    customer_id: UUID
    version: int
    in_force: list[ConsentOut] = Field(
        description="Per channel and purpose, the decision made last; none: never asked."
    )
    history: list[ConsentOut] = Field(description="Every decision, in the order made: a page.")
    next_cursor: str | None = Field(
        default=None, description="Pass as cursor for the next page of history; null: the last."
    )


def decision_position(sourced: Sourced[ConsentDecision]) -> Position:
    return instant_part(sourced.item.decided_at), str(sourced.item.decision_id)


def consents_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["consent"], responses=PERSON_PROBLEM_RESPONSES)

    @router.post("/{customer_id}/consents", status_code=201, response_model=ConsentOut)
    def record_consent(
        customer_id: UUID,
        body: RecordConsent,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> ConsentOut:
        """Record the person's decision to grant or withdraw consent on a channel for a purpose."""
        # The decision's id is its command's: the customer in its scope keeps ids unique.
        cmd = command(
            key,
            principal,
            body,
            service=SERVICE,
            operation=CONSENT,
            target=customer_id,
            if_match=if_match,
        )
        decision = body.model_dump(exclude={"expected_version"})
        outcome = application.record_consent(customer_id, cmd, **decision)
        return answer(
            response,
            outcome,
            lambda customer: ConsentOut.of(customer_id, customer.consent(cmd.command_id)),
        )

    @router.get("/{customer_id}/consents", response_model=ConsentsOut)
    def get_consents(customer_id: UUID, _: Reader, page: Paging) -> ConsentsOut:
        """Consent in force (over the person and the duplicates merged into them) and history,
        page by page."""
        consents = application.get_consents(customer_id)
        history, next_cursor = page.within(consents, consents.history, decision_position)
        return ConsentsOut(
            customer_id=consents.customer_id,
            version=consents.version,
            in_force=ConsentOut.each(consents.in_force),
            history=ConsentOut.each(history),
            next_cursor=next_cursor,
        )

    return router
