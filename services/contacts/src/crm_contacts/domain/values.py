"""Value objects and normalizers shared by the contacts domain (pure: no I/O, no frameworks)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from .errors import RuleViolation

NAME_MAX_LENGTH = 200
ACTOR_MAX_LENGTH = 200
SUMMARY_MAX_LENGTH = 4000
SUBJECT_MAX_LENGTH = 300
TEXT_MAX_LENGTH = 200
TAG_MAX_LENGTH = 50
MAX_TAGS = 50
EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a forward path

# Clocks of the clients that report what happened are not exactly ours.
CLOCK_SKEW = timedelta(minutes=5)

_WHITESPACE = re.compile(r"\s+")
_REFERENCE_KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_REFERENCE_ID = re.compile(r"[\x21-\x7e]{1,100}")

# ISO 3166-1 alpha-2: the officially assigned country codes.
COUNTRIES = frozenset(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR"
    " BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ"
    " EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW"
    " GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY"
    " KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV"
    " MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY"
    " QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG"
    " TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM"
    " ZW".split()
)

E = TypeVar("E", bound=StrEnum)


class Channel(StrEnum):
    """Where an interaction took place."""

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
class RecordReference:
    """Another record an interaction is about, in any service: ``opportunity`` ``<id>``."""

    kind: str
    id: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RecordReference:
        kind, record_id = str(raw.get("kind", "")).strip(), str(raw.get("id", "")).strip()
        if not _REFERENCE_KIND.fullmatch(kind):
            raise RuleViolation("kind", "must be a lower-case word such as opportunity or ticket")
        if not _REFERENCE_ID.fullmatch(record_id):
            raise RuleViolation("id", "must be 1 to 100 visible ASCII characters")
        return cls(kind=kind, id=record_id)


@dataclass(frozen=True)
class Interaction:
    """One contact with the person, as recorded in ``customer_version``.

    ``subject`` and ``summary`` are the person's personal data: ``None`` once erased.
    """

    interaction_id: UUID
    channel: Channel
    direction: Direction
    subject: str | None
    summary: str | None
    actor: str
    occurred_at: datetime
    related_to: RecordReference | None
    customer_version: int


def normalize_country(raw: str, field: str = "country") -> str:
    code = raw.strip().upper()
    if code not in COUNTRIES:
        raise RuleViolation(field, "must be an ISO 3166-1 alpha-2 country code, such as DE")
    return code


def normalize_tags(raw: Iterable[str], field: str = "tags") -> tuple[str, ...]:
    """Trimmed, single-spaced and lower-case (tags compare case-insensitively), unique, sorted."""
    tags = {_WHITESPACE.sub(" ", tag).strip().lower() for tag in raw}
    if "" in tags:
        raise RuleViolation(field, "a tag must not be blank")
    if long := next((tag for tag in tags if len(tag) > TAG_MAX_LENGTH), None):
        raise RuleViolation(field, f"tag {long[:20]!r}... is longer than {TAG_MAX_LENGTH}")
    if len(tags) > MAX_TAGS:
        raise RuleViolation(field, f"at most {MAX_TAGS} tags")
    return tuple(sorted(tags))


def required_text(field: str, raw: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise RuleViolation(field, "must not be blank")
    if len(text) > max_length:
        raise RuleViolation(field, f"must be at most {max_length} characters")
    return text


def optional_text(field: str, raw: str | None, max_length: int = TEXT_MAX_LENGTH) -> str | None:
    """Blank counts as absent."""
    if raw is None or not str(raw).strip():
        return None
    return required_text(field, raw, max_length)


def member(field: str, enum: type[E], raw: Any) -> E:
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(enum)
        raise RuleViolation(field, f"must be one of {allowed}") from None


def past_instant(field: str, value: datetime, now: datetime | None = None) -> datetime:
    """An aware instant not in the future (beyond the clock skew), in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleViolation(field, "must include a time zone offset")
    if value > (now or datetime.now(UTC)) + CLOCK_SKEW:
        raise RuleViolation(field, "must not be in the future")
    return value.astimezone(UTC)
