"""Interactions with a person across channels: ``CustomerContacted``."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from crm_platform.web.commands import ConditionalBody, IfMatch, answer, command
from crm_platform.web.idempotency import IdempotencyKey
from crm_platform.web.pages import (
    Position,
    instant_part,
)
from crm_platform.web.types import Instant

from ..application import ContactsApplication
from ..domain import Channel, Direction, Interaction, Sourced
from ..domain.values import ACTOR_MAX_LENGTH, SUBJECT_MAX_LENGTH, SUMMARY_MAX_LENGTH
from .common import PERSON_PROBLEM_RESPONSES, SERVICE, Out, Paging, Reader, Writer, created
from .sections import Section

CONTACT = "record-contact"
# What the body says of the interaction itself (the actor defaults to the caller).
INTERACTION_FIELDS = {"channel", "direction", "subject", "summary", "occurred_at", "related_to"}


class RelatedRecord(Section):
    kind: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,39}$", examples=["opportunity"], description="Its kind."
    )
    id: str = Field(min_length=1, max_length=100, description="Its id in its service.")


class RecordContact(ConditionalBody):
    channel: Channel
    direction: Direction
    subject: str | None = Field(default=None, max_length=SUBJECT_MAX_LENGTH)
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX_LENGTH)
    occurred_at: Instant
    actor: str | None = Field(
        default=None,
        min_length=1,
        max_length=ACTOR_MAX_LENGTH,
        description="Who handled the interaction; defaults to the caller.",
    )
    related_to: RelatedRecord | None = Field(
        default=None, description="A record the interaction is about (an opportunity, a ticket)."
    )


class InteractionOut(Out):
    interaction_id: UUID
    record_id: UUID = Field(description="The record holding it (a merged duplicate's, or own).")
    channel: Channel
    direction: Direction
    subject: str | None
    summary: str | None = Field(description="None only once the person was erased.")
    actor: str
    occurred_at: datetime
    related_to: RelatedRecord | None
    customer_version: int = Field(description="The record's version after this interaction.")

    @classmethod
    def of(cls, record_id: UUID, interaction: Interaction) -> InteractionOut:
        return cls.model_validate({"record_id": record_id, **vars(interaction)})


class InteractionsOut(BaseModel):
    customer_id: UUID
    version: int
    items: list[InteractionOut] = Field(description="As they occurred, one page.")
    next_cursor: str | None = Field(
        default=None, description="Pass as cursor for the next page; null: the last."
    )


def interactions_path(customer_id: UUID) -> str:
    return f"/customers/{customer_id}/interactions"


def interaction_position(sourced: Sourced[Interaction]) -> Position:
    """Where an interaction stands in its person's list: by time, then by id."""
    item = sourced.item
    return instant_part(item.occurred_at), str(item.interaction_id)


def interactions_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(
        prefix="/customers", tags=["interactions"], responses=PERSON_PROBLEM_RESPONSES
    )

    @router.post("/{customer_id}/interactions", status_code=201, response_model=InteractionOut)
    def record_contact(
        customer_id: UUID,
        body: RecordContact,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> InteractionOut:
        """Record an interaction; If-Match (or expected_version) guards against lost updates."""
        # The interaction's id is its command's: the customer in its scope keeps ids unique.
        cmd = command(
            key,
            principal,
            body,
            service=SERVICE,
            operation=CONTACT,
            target=customer_id,
            if_match=if_match,
        )
        outcome = application.record_contact(
            customer_id,
            cmd,
            **body.model_dump(include=INTERACTION_FIELDS),
            actor=body.actor or principal.subject,
        )
        created(
            request,
            response,
            "get_interaction",
            customer_id=customer_id,
            interaction_id=cmd.command_id,
        )
        return answer(
            response,
            outcome,
            lambda customer: InteractionOut.of(customer_id, customer.interactions[cmd.command_id]),
        )

    @router.get("/{customer_id}/interactions", response_model=InteractionsOut)
    def list_interactions(customer_id: UUID, _: Reader, page: Paging) -> InteractionsOut:
        """The person's interactions and those of duplicates merged into them, as they occurred,
        page by page."""
        customer = application.get_customer(customer_id)
        shown, next_cursor = page.within(
            customer, customer.person.interactions, interaction_position
        )
        items = [InteractionOut.of(s.record_id, s.item) for s in shown]
        return InteractionsOut(
            customer_id=customer.id, version=customer.version, items=items, next_cursor=next_cursor
        )

    @router.get("/{customer_id}/interactions/{interaction_id}", response_model=InteractionOut)
    def get_interaction(customer_id: UUID, interaction_id: UUID, _: Reader) -> InteractionOut:
        found = application.get_interaction(customer_id, interaction_id)
        return InteractionOut.of(found.record_id, found.item)

    return router
