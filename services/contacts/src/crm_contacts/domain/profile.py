"""A person's profile: names, contact points, relationships, dates, preferences, tags, fields.

Parsed, stored and patched section by section (see ``sections``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from functools import cache
from typing import Any, TypeGuard, TypeVar
from uuid import UUID
from zoneinfo import available_timezones

from .consent import ContactChannel
from .contact_points import EmailAddress, PhoneNumber, PostalAddress
from .custom_fields import CustomValue
from .errors import RuleViolation, violations_at
from .sections import (
    Sections,
    as_object,
    custom_fields,
    entries,
    one,
    optional,
    points,
    tags,
    text,
)
from .values import NAME_MAX_LENGTH, member, optional_text, required_text

MAX_OTHER_PREFERENCES = 50
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
_PREFERENCE_KEY = re.compile(r"[a-z][a-z0-9_.-]{0,49}")

T = TypeVar("T")


class Relation(StrEnum):
    SPOUSE = "spouse"
    PARTNER = "partner"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    OTHER = "other"


class DateKind(StrEnum):
    BIRTHDAY = "birthday"
    ANNIVERSARY = "anniversary"
    CUSTOM = "custom"


class Weekday(StrEnum):
    MONDAY = "mon"
    TUESDAY = "tue"
    WEDNESDAY = "wed"
    THURSDAY = "thu"
    FRIDAY = "fri"
    SATURDAY = "sat"
    SUNDAY = "sun"


@dataclass(frozen=True)
class AnnualDate:
    """A date that comes back every year; the year is often unknown (a birthday, no age)."""

    month: int
    day: int
    year: int | None = None

    @classmethod
    def parse(cls, raw: Any) -> AnnualDate:
        if not isinstance(raw, Mapping):
            raise RuleViolation("", "must be an object with month, day and an optional year")
        month, day, year = raw.get("month"), raw.get("day"), raw.get("year")
        if not _integer(month) or not 1 <= month <= 12:
            raise RuleViolation("month", "must be a month number 1 to 12")
        if year is not None and (not _integer(year) or not 1 <= year <= 9999):
            raise RuleViolation("year", "must be a year 1 to 9999")
        # Without a year, 29 February is a valid anniversary.
        last = calendar.monthrange(2000 if year is None else year, month)[1]
        if not _integer(day) or not 1 <= day <= last:
            raise RuleViolation("day", f"must be a day 1 to {last} of that month")
        return cls(month=month, day=day, year=year)


@dataclass(frozen=True)
class Role:
    """The person's position at an organization, over a period (open-ended when unknown)."""

    organization_id: UUID
    title: str | None = None
    department: str | None = None
    start: date | None = None
    end: date | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Role:
        role = cls(
            organization_id=_parsed("organization_id", UUID, raw.get("organization_id")),
            title=optional_text("title", raw.get("title")),
            department=optional_text("department", raw.get("department")),
            start=_optional_date("start", raw.get("start")),
            end=_optional_date("end", raw.get("end")),
        )
        if role.start and role.end and role.end < role.start:
            raise RuleViolation("end", "must not be before start")
        return role


@dataclass(frozen=True)
class FamilyMember:
    name: str
    relation: Relation
    birthday: AnnualDate | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> FamilyMember:
        birthday = raw.get("birthday")
        if birthday is not None:
            with violations_at("birthday"):
                birthday = AnnualDate.parse(birthday)
        return cls(
            name=required_text("name", raw.get("name", ""), NAME_MAX_LENGTH),
            relation=member("relation", Relation, raw.get("relation")),
            birthday=birthday,
        )


@dataclass(frozen=True)
class ImportantDate:
    kind: DateKind
    date: AnnualDate
    label: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ImportantDate:
        kind = member("kind", DateKind, raw.get("kind"))
        label = optional_text("label", raw.get("label"))
        if kind is DateKind.CUSTOM and label is None:
            raise RuleViolation("label", "a custom date needs a label")
        with violations_at("date"):
            when = AnnualDate.parse(raw.get("date"))
        return cls(kind=kind, date=when, label=label)


@dataclass(frozen=True)
class ContactHours:
    """When the person likes to be contacted, in their own time zone."""

    days: tuple[Weekday, ...]
    start: time
    end: time
    time_zone: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ContactHours:
        days = raw.get("days") or ()
        if isinstance(days, str) or not days:
            raise RuleViolation("days", "must list at least one weekday")
        weekdays = {member(f"days.{i}", Weekday, d) for i, d in enumerate(days)}
        hours = cls(
            days=tuple(d for d in Weekday if d in weekdays),
            start=_parsed("start", _clock_time, raw.get("start")),
            end=_parsed("end", _clock_time, raw.get("end")),
            time_zone=str(raw.get("time_zone") or ""),
        )
        if hours.end <= hours.start:
            raise RuleViolation("end", "must be after start")
        if hours.time_zone not in _time_zones():
            raise RuleViolation("time_zone", "must be an IANA time zone, such as Europe/Berlin")
        return hours


@dataclass(frozen=True)
class Preferences:
    language: str | None = None
    preferred_channel: ContactChannel | None = None
    contact_hours: ContactHours | None = None
    other: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Preferences:
        hours = raw.get("contact_hours")
        if hours is not None:
            with violations_at("contact_hours"):
                hours = ContactHours.parse(as_object(hours))
        channel = raw.get("preferred_channel")
        return cls(
            language=_language(raw.get("language")),
            preferred_channel=None
            if channel is None
            else member("preferred_channel", ContactChannel, channel),
            contact_hours=hours,
            other=_other_preferences(raw.get("other")),
        )


@dataclass(frozen=True)
class PersonProfile:
    """Everything the business knows about a person but its dealings with them.

    The family name is ``None`` only once the person was erased.
    """

    given_name: str | None = None
    family_name: str | None = None
    emails: tuple[EmailAddress, ...] = ()
    phones: tuple[PhoneNumber, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    roles: tuple[Role, ...] = ()
    family_members: tuple[FamilyMember, ...] = ()
    important_dates: tuple[ImportantDate, ...] = ()
    preferences: Preferences = Preferences()
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, CustomValue] = field(default_factory=dict)


PERSON = Sections(
    profile=PersonProfile,
    parsers={
        "given_name": optional(NAME_MAX_LENGTH),
        "family_name": text(NAME_MAX_LENGTH),
        "emails": points(EmailAddress.parse),
        "phones": points(PhoneNumber.parse),
        "addresses": points(PostalAddress.parse),
        "roles": entries(Role.parse),
        "family_members": entries(FamilyMember.parse),
        "important_dates": lambda field, raw, definitions: _one_birthday(
            field, entries(ImportantDate.parse)(field, raw, definitions)
        ),
        "preferences": one(Preferences.parse),
        "tags": tags,
        "custom_fields": custom_fields,
    },
    required=("family_name",),  # as in Salesforce: many know a person only by surname
    record="person",
)
PERSON_SECTIONS = PERSON.names


def _one_birthday(field: str, dates: tuple[ImportantDate, ...]) -> tuple[ImportantDate, ...]:
    birthdays = [i for i, d in enumerate(dates) if d.kind is DateKind.BIRTHDAY]
    if len(birthdays) > 1:
        raise RuleViolation(f"{field}.{birthdays[1]}.kind", "a person has one birthday")
    return dates


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _parsed(field: str, parse: Callable[[Any], T], raw: Any) -> T:
    try:
        return parse(raw if isinstance(raw, str) else str(raw) if raw is not None else "")
    except ValueError:
        raise RuleViolation(field, "is missing or malformed") from None


def _optional_date(field: str, raw: Any) -> date | None:
    return None if raw is None else _parsed(field, date.fromisoformat, raw)


def _clock_time(text: str) -> time:
    """``"09:30"``: minutes precision, no time zone (that is a separate field)."""
    value = time.fromisoformat(text)
    if value.tzinfo is not None or value.second or value.microsecond:
        raise ValueError(text)
    return value


def _language(raw: Any) -> str | None:
    """A BCP 47 tag in its usual case: ``pt-br`` -> ``pt-BR``."""
    if raw is None:
        return None
    tag = str(raw).strip().lower()
    if not _LANGUAGE.fullmatch(tag):
        raise RuleViolation("language", "must be a language tag, such as en or pt-BR")
    head, *rest = tag.split("-")
    return "-".join([head, *(part.upper() if len(part) == 2 else part for part in rest)])


def _other_preferences(raw: Any) -> dict[str, str]:
    other = dict(as_object(raw)) if raw is not None else {}
    if len(other) > MAX_OTHER_PREFERENCES:
        raise RuleViolation("other", f"at most {MAX_OTHER_PREFERENCES} preferences")
    for key, value in other.items():
        if not _PREFERENCE_KEY.fullmatch(key):
            raise RuleViolation(f"other.{key}", "keys are lower-case words of up to 50 characters")
        other[key] = required_text(f"other.{key}", value if isinstance(value, str) else "", 500)
    return dict(sorted(other.items()))


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())
