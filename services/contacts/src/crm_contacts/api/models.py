"""Request and response bodies of the contacts API."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from ..domain import Channel, Direction, normalize_email, normalize_phone
from ..domain.values import ACTOR_MAX_LENGTH, NAME_MAX_LENGTH, SUMMARY_MAX_LENGTH

# Syntax only (one "@", no spaces, a dot in the domain): deliverability is not ours to judge.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterCustomer(Command):
    given_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    family_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    email: str | None = Field(default=None, max_length=254, examples=["ada@example.org"])
    phone: str | None = Field(
        default=None, max_length=32, description="International number", examples=["+4930123456"]
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address")
        return None if value is None else normalize_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class RecordContact(Command):
    channel: Channel
    direction: Direction
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX_LENGTH)
    occurred_at: AwareDatetime
    actor: str | None = Field(
        default=None,
        min_length=1,
        max_length=ACTOR_MAX_LENGTH,
        description="Who handled the interaction; defaults to the caller.",
    )
    expected_version: int | None = Field(
        default=None, ge=1, description="The customer version seen (or send If-Match)."
    )


class InteractionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    interaction_id: UUID
    channel: Channel
    direction: Direction
    summary: str
    actor: str
    occurred_at: datetime
    customer_version: int = Field(description="The customer's version after this interaction.")


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    registered_at: datetime
    version: int
    interactions: list[InteractionOut]


class InteractionsOut(BaseModel):
    customer_id: UUID
    version: int
    items: list[InteractionOut]
