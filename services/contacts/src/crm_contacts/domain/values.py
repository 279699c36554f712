"""Value objects and normalizers of the contacts domain (pure: no I/O, no frameworks)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from .errors import RuleViolation

NAME_MAX_LENGTH = 200
ACTOR_MAX_LENGTH = 200
SUMMARY_MAX_LENGTH = 4000

# Separators people type inside phone numbers; "00" is the international call prefix.
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
# E.164: a "+", a country code not starting with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    MEETING = "meeting"
    SOCIAL = "social"
    LETTER = "letter"
    WEB = "web"
    SMS = "sms"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Interaction:
    """One contact with the customer, as recorded in ``customer_version``."""

    interaction_id: UUID
    channel: Channel
    direction: Direction
    summary: str
    actor: str
    occurred_at: datetime
    customer_version: int
    request_fingerprint: str


def normalize_phone(raw: str) -> str:
    """``"+49 (30) 1234-567"`` -> ``"+49301234567"``; numbers without a country code fail."""
    compact = _PHONE_SEPARATORS.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise RuleViolation("phone", "must be an international number: + or 00, 7 to 15 digits")
    return compact


def normalize_email(raw: str) -> str:
    """Addresses compare case-insensitively in practice, so they are stored lower-case."""
    email = raw.strip().lower()
    if not email:
        raise RuleViolation("email", "must not be blank")
    return email


def required_text(field: str, raw: str, max_length: int) -> str:
    text = raw.strip()
    if not text:
        raise RuleViolation(field, "must not be blank")
    if len(text) > max_length:
        raise RuleViolation(field, f"must be at most {max_length} characters")
    return text


def member(field: str, enum: type[StrEnum], raw: str) -> StrEnum:
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(enum)
        raise RuleViolation(field, f"must be one of {allowed}") from None
