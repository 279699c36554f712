"""Models of profile sections, used in requests and responses of people and organizations.

Each model checks shapes and types only (what the OpenAPI document shows); the domain checks the
rules (normalization, one primary entry, real dates, custom field types) and names the field at
fault in the same way. ``Sourced*`` models are the entries of a person's combined view.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm_platform.web.types import JsonScalar

from ..domain import (
    AddressType,
    ContactChannel,
    DateKind,
    EmailType,
    PhoneType,
    Relation,
    Sourced,
    Weekday,
)

CustomValue = JsonScalar
CUSTOM_FIELDS_DOC = (
    "Values of the custom fields defined under /custom-fields: text, numbers (answered as"
    " decimal strings), true or false, dates YYYY-MM-DD, or one of an enum's options. In a"
    " PATCH the object is merged: a null value removes that field."
)
TAGS_DOC = "Labels, compared case-insensitively (kept lower-case, sorted)."
LIST_DOC = "The whole list (a PATCH replaces it; null empties it)."

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """Unknown fields are refused in requests; responses are read from domain values."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, from_attributes=True)


class Email(Section):
    address: str = Field(max_length=254, examples=["ada@example.org"])
    type: EmailType = EmailType.OTHER
    primary: bool = Field(default=False, description="Without one flagged, the first is primary.")


class Phone(Section):
    number: str = Field(
        max_length=40,
        description="International: + or 00 and 7 to 15 digits; kept in E.164.",
        examples=["+44 20 7946 0958"],
    )
    type: PhoneType = PhoneType.OTHER
    primary: bool = False


class Address(Section):
    lines: list[str] = Field(min_length=1, max_length=4, examples=[["12 Baker Street"]])
    locality: str = Field(examples=["London"])
    region: str | None = None
    postal_code: str | None = Field(default=None, examples=["NW1 6XE"])
    country: str = Field(description="ISO 3166-1 alpha-2 code.", examples=["GB"])
    type: AddressType = AddressType.OTHER
    primary: bool = False


class Role(Section):
    """The person's position at an organization, over a period (open when unknown)."""

    organization_id: UUID
    title: str | None = None
    department: str | None = None
    start: date | None = None
    end: date | None = None


class AnnualDate(Section):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    year: int | None = Field(default=None, ge=1, le=9999, description="Often unknown.")


class FamilyMember(Section):
    name: str
    relation: Relation
    birthday: AnnualDate | None = None


class ImportantDate(Section):
    kind: DateKind
    label: str | None = Field(default=None, description="Required for a custom date.")
    date: AnnualDate


class ContactHours(Section):
    days: list[Weekday] = Field(min_length=1)
    start: time = Field(description="Local time, minutes precision.", examples=["09:00"])
    end: time = Field(examples=["17:30"])
    time_zone: str = Field(description="IANA time zone.", examples=["Europe/London"])


class Preferences(Section):
    language: str | None = Field(default=None, description="BCP 47 tag.", examples=["en-GB"])
    preferred_channel: ContactChannel | None = None
    contact_hours: ContactHours | None = None
    other: dict[str, str] = Field(default_factory=dict, description="Free preferences.")


class SourcedEmail(Email):
    record_id: UUID = Field(description="The record holding the entry (see Sourced).")


class SourcedPhone(Phone):
    record_id: UUID


class SourcedAddress(Address):
    record_id: UUID


class SourcedRole(Role):
    record_id: UUID


class SourcedFamilyMember(FamilyMember):
    record_id: UUID


class SourcedImportantDate(ImportantDate):
    record_id: UUID


def sourced(model: type[M], entries: Iterable[Sourced[Any]]) -> list[M]:
    """Response entries of a combined view: each value with the id of its record."""
    return [model.model_validate({"record_id": s.record_id, **vars(s.item)}) for s in entries]


def in_json(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    """The fields a request set (explicit nulls included), as JSON values for the domain."""
    return model.model_dump(mode="json", exclude_unset=True, exclude=exclude)
