"""Typed, normalized contact points: e-mail addresses, phone numbers and postal addresses.

Each list keeps at most one entry per normalized value and exactly one primary entry when it is
not empty (the first one, unless the caller flags another).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

import email_validator
import phonenumbers

from .errors import RuleViolation, violations_at
from .values import EMAIL_MAX_LENGTH, member, normalize_country, optional_text, required_text

MAX_CONTACT_POINTS = 20
MAX_ADDRESS_LINES = 4


class EmailType(StrEnum):
    WORK = "work"
    HOME = "home"
    OTHER = "other"


class PhoneType(StrEnum):
    WORK = "work"
    HOME = "home"
    MOBILE = "mobile"
    FAX = "fax"
    OTHER = "other"


class AddressType(StrEnum):
    WORK = "work"
    HOME = "home"
    BILLING = "billing"
    SHIPPING = "shipping"
    OTHER = "other"


class _OneValue:
    """Mixed into a contact point that is one normalized value: that value is its identity."""

    value: ClassVar[str]  # the name of the field holding it

    @property
    def identity(self) -> str:
        return str(getattr(self, self.value))


@dataclass(frozen=True)
class EmailAddress(_OneValue):
    value = "address"
    address: str
    type: EmailType = EmailType.OTHER
    primary: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> EmailAddress:
        return cls(email_address(_text(raw, "address"), "address"), **_kind(raw, EmailType))


@dataclass(frozen=True)
class PhoneNumber(_OneValue):
    value = "number"
    number: str
    type: PhoneType = PhoneType.OTHER
    primary: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PhoneNumber:
        return cls(phone_number(_text(raw, "number"), "number"), **_kind(raw, PhoneType))


@dataclass(frozen=True)
class PostalAddress:
    lines: tuple[str, ...]
    locality: str
    country: str
    region: str | None = None
    postal_code: str | None = None
    type: AddressType = AddressType.OTHER
    primary: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PostalAddress:
        lines = raw.get("lines") or ()
        if isinstance(lines, str) or not 1 <= len(lines) <= MAX_ADDRESS_LINES:
            raise RuleViolation(
                "lines", f"must be 1 to {MAX_ADDRESS_LINES} lines of street address"
            )
        return cls(
            lines=tuple(required_text(f"lines.{i}", line) for i, line in enumerate(lines)),
            locality=required_text("locality", _text(raw, "locality")),
            country=normalize_country(_text(raw, "country")),
            region=optional_text("region", raw.get("region")),
            postal_code=_postal_code(raw.get("postal_code")),
            **_kind(raw, AddressType),
        )

    @property
    def identity(self) -> tuple[Any, ...]:
        """Addresses written with other capitals or spacing are the same address."""
        lines = tuple(" ".join(line.lower().split()) for line in self.lines)
        return (
            lines,
            self.locality.lower(),
            (self.postal_code or "").replace(" ", ""),
            self.country,
        )


def email_address(raw: str, field: str = "email") -> str:
    """A syntactically valid address (email-validator's rules, no DNS look-up), lower-case as
    addresses compare in practice. Quoted local parts are refused: ``"ceo,x"@evil.test`` would
    reach two recipients through mail software that splits on the comma."""
    text = raw.strip()
    if not text:
        raise RuleViolation(field, "must not be blank")
    if len(text) > EMAIL_MAX_LENGTH:
        raise RuleViolation(field, f"must be at most {EMAIL_MAX_LENGTH} characters")
    try:
        # test_environment admits the reserved ``.test`` domain, which staging data uses.
        valid = email_validator.validate_email(
            text, check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError as error:
        raise RuleViolation(field, f"not an e-mail address: {error}") from None
    return valid.normalized.lower()


def phone_number(raw: str, field: str = "phone", region: str | None = None) -> str:
    """A valid number in E.164 (``+4930123456``). A national number (``030 123456``) needs the
    ``region`` (ISO 3166 alpha-2) it is dialled in; ``00`` counts as the international prefix."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        where = f"in region {region}" if region else "with its country code (+ or 00)"
        raise RuleViolation(field, f"not a valid phone number {where}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_region(raw: str, field: str = "region") -> str:
    """A region national phone numbers are dialled in: an ISO 3166 alpha-2 code with a
    numbering plan (``DE``)."""
    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise RuleViolation(field, "must be a country code with phone numbers, such as DE")
    return region


class ContactPoint(Protocol):
    @property
    def primary(self) -> bool: ...
    @property
    def identity(self) -> Any: ...


P = TypeVar("P", bound=ContactPoint)
E = TypeVar("E", bound=StrEnum)


def contact_points(
    field: str, raw: Sequence[Mapping[str, Any]] | None, parse: Callable[[Mapping[str, Any]], P]
) -> tuple[P, ...]:
    """The validated list: unique by normalized value, exactly one primary when not empty."""
    if raw is None:
        return ()
    if isinstance(raw, str | Mapping) or len(raw) > MAX_CONTACT_POINTS:
        raise RuleViolation(field, f"must be a list of at most {MAX_CONTACT_POINTS} entries")
    items: list[P] = []
    for index, entry in enumerate(raw):
        with violations_at(f"{field}.{index}"):
            if not isinstance(entry, Mapping):
                raise RuleViolation("", "must be an object")
            items.append(parse(entry))
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        if item.identity in seen:
            raise RuleViolation(f"{field}.{index}", f"repeats entry {seen[item.identity]}")
        seen[item.identity] = index
    return with_one_primary(field, items)


def with_one_primary(field: str, items: Sequence[P]) -> tuple[P, ...]:
    flagged = [index for index, item in enumerate(items) if item.primary]
    if len(flagged) > 1:
        raise RuleViolation(f"{field}.{flagged[1]}.primary", "only one entry may be primary")
    if items and not flagged:
        return (dataclasses.replace(items[0], primary=True), *items[1:])  # type: ignore[type-var]
    return tuple(items)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str):
        raise RuleViolation(name, "is required text")
    return value


def _kind(raw: Mapping[str, Any], types: type[E]) -> dict[str, Any]:
    """A contact point's type (``other`` by default) and whether it is the primary one."""
    primary = raw.get("primary", False)
    if not isinstance(primary, bool):
        raise RuleViolation("primary", "must be true or false")
    return {"type": member("type", types, raw.get("type") or "other"), "primary": primary}


def _postal_code(raw: Any) -> str | None:
    code = optional_text("postal_code", raw, 20)
    return None if code is None else " ".join(code.upper().split())
