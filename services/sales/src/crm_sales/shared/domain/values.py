"""Normalizers shared by the pipeline aggregates (leads, opportunities, stage configuration).

Each raises ``RuleViolation`` naming the input at fault, so the API answers with that field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar, cast
from uuid import UUID, uuid5

from crm_platform.values import MAX_AMOUNT, MINOR_UNITS

from .errors import RuleViolation

NAME_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 200
NOTE_MAX_LENGTH = 2000
MAX_CUSTOM_FIELDS = 50

# Ids derived from other ids (a lead's future customer, its opportunity): fixed forever.
DERIVED_ID_NAMESPACE = UUID("5d0c8a3e-2b61-4f0e-8a57-7f3e2c9b1d44")

_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_COUNTRY = re.compile(r"[A-Z]{2}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")

E = TypeVar("E", bound=StrEnum)

# Default of a parameter named ``timestamp`` in an event-decorated method: the library passes the
# event's own timestamp to such a parameter when it applies the event, so the default never shows.
EVENT_TIME = cast(datetime, None)
FieldValue = str | int | float | bool | None


def derived_id(origin: UUID, purpose: str) -> UUID:
    """The id of the record ``origin`` gives rise to for ``purpose``: the same on every retry."""
    return uuid5(DERIVED_ID_NAMESPACE, f"{origin}:{purpose}")


def required_text(field: str, raw: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    text = raw.strip()
    if not text:
        raise RuleViolation(field, "must not be blank")
    if len(text) > max_length:
        raise RuleViolation(field, f"must be at most {max_length} characters")
    return text


def optional_text(field: str, raw: str | None, max_length: int = TEXT_MAX_LENGTH) -> str | None:
    """Blank counts as absent: web forms send empty strings for fields left empty."""
    if raw is None or not raw.strip():
        return None
    return required_text(field, raw, max_length)


def normalize_email(raw: str | None, field: str = "email") -> str | None:
    """Addresses compare case-insensitively in practice, so they are kept lower-case."""
    email = optional_text(field, raw, 254)
    if email is None:
        return None
    if not _EMAIL.fullmatch(email):
        raise RuleViolation(field, "not an e-mail address")
    return email.lower()


def normalize_phone(raw: str | None, field: str = "phone") -> str | None:
    """``"+49 (30) 1234-567"`` -> ``"+49301234567"``; numbers without a country code fail."""
    if raw is None or not raw.strip():
        return None
    compact = _PHONE_SEPARATORS.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise RuleViolation(field, "must be an international number: + or 00, 7 to 15 digits")
    return compact


def currency_code(raw: str, field: str = "currency") -> str:
    code = raw.strip().upper()
    if code not in MINOR_UNITS:
        raise RuleViolation(field, "must be an ISO 4217 currency code such as EUR")
    return code


def country_code(raw: str | None, field: str = "country") -> str | None:
    if raw is None or not raw.strip():
        return None
    code = raw.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise RuleViolation(field, "must be an ISO 3166-1 alpha-2 code such as DE")
    return code


def checked_amount(raw: Decimal | int | str, field: str = "amount") -> Decimal:
    try:
        value = Decimal(raw)
    except (InvalidOperation, TypeError, ValueError):
        raise RuleViolation(field, "must be a decimal number") from None
    if not value.is_finite() or value < 0:
        raise RuleViolation(field, "must be zero or more")
    if value >= MAX_AMOUNT:
        raise RuleViolation(field, f"must be less than {MAX_AMOUNT:,.0f}")
    # A finite value (checked above) has an int exponent; only NaN and infinity have a letter.
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise RuleViolation(field, "must have at most 4 decimal places")
    return value


def percentage(raw: int, field: str = "probability") -> int:
    if isinstance(raw, bool) or not 0 <= raw <= 100:
        raise RuleViolation(field, "must be a whole number from 0 to 100")
    return raw


def positive_int(raw: int | None, field: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or raw < 1:
        raise RuleViolation(field, "must be 1 or more")
    return raw


def slug(raw: str, field: str) -> str:
    if not _SLUG.fullmatch(raw):
        raise RuleViolation(
            field, "must be 1 to 50 of a-z, 0-9, _ and -, starting with a letter or digit"
        )
    return raw


def member(enum: type[E], raw: str, field: str) -> E:
    try:
        return enum(raw)
    except ValueError:
        raise RuleViolation(field, f"must be one of {', '.join(enum)}") from None


def custom_fields(raw: Mapping[str, FieldValue], field: str = "fields") -> dict[str, FieldValue]:
    """Custom values must stay scalar and small: they are published in plain text."""
    if len(raw) > MAX_CUSTOM_FIELDS:
        raise RuleViolation(field, f"at most {MAX_CUSTOM_FIELDS} fields")
    for name, value in raw.items():
        if not _FIELD_NAME.fullmatch(name):
            raise RuleViolation(f"{field}.{name}", "names are letters, digits and _")
        if isinstance(value, str) and len(value) > TEXT_MAX_LENGTH:
            raise RuleViolation(f"{field}.{name}", f"at most {TEXT_MAX_LENGTH} characters")
        if not isinstance(value, str | int | float | bool | None):
            raise RuleViolation(f"{field}.{name}", "must be a string, number, boolean or null")
    return dict(raw)
