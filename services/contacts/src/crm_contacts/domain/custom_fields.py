"""Typed custom fields: definitions kept per kind of record, and the values they admit.

An administrator defines a field once (its name and type are then fixed, since stored values
depend on them); later revisions may change the label and description and add enum options, never
remove one. Values are kept in a canonical JSON form: strings, ``true``/``false``, numbers as
decimal strings (no binary rounding), dates as ``YYYY-MM-DD``; the API shows numbers as JSON
numbers (``typed_values``), the events keep the decimal strings their contract documents.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .codec import from_json, to_json
from .errors import InvalidState, RuleViolation
from .values import member, optional_text, required_text

CustomValue = str | bool
FieldValue = str | bool | int | float  # a value as JSON shows it: numbers as numbers
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
STRING_MAX_LENGTH = 1000
MAX_OPTIONS = 200
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}
# Catalog ids are fixed per record kind, so every process finds the same catalog.
_CATALOG_NAMESPACE = uuid.UUID("8d2f3a8e-54c4-4c3e-9b0e-2a6f3c0c7d51")


class RecordKind(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"


@dataclass(frozen=True)
class FieldDefinition:
    name: str
    type: FieldType
    label: str
    description: str | None = None
    options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, name: str, raw: Mapping[str, Any]) -> FieldDefinition:
        if not FIELD_NAME.fullmatch(name):
            raise RuleViolation("name", "must be lower-case letters, digits and _, from a letter")
        kind = member("type", FieldType, raw.get("type"))
        raw_options = raw.get("options") or ()
        options = tuple(required_text(f"options.{i}", o) for i, o in enumerate(raw_options))
        if kind is FieldType.ENUM and not options:
            raise RuleViolation("options", "an enum field needs at least one option")
        if kind is not FieldType.ENUM and options:
            raise RuleViolation("options", "only enum fields have options")
        if len(set(options)) != len(options) or len(options) > MAX_OPTIONS:
            raise RuleViolation("options", f"must be unique, at most {MAX_OPTIONS}")
        return cls(
            name=name,
            type=kind,
            label=required_text("label", raw.get("label", "")),
            description=optional_text("description", raw.get("description"), 1000),
            options=options,
        )

    def revised(self, new: FieldDefinition) -> FieldDefinition:
        """This definition as ``new`` says, if values valid before stay valid."""
        if new.type is not self.type:
            raise InvalidState(f"custom field {self.name} is a {self.type} field for good")
        if removed := [o for o in self.options if o not in new.options]:
            raise InvalidState(f"options in use cannot be removed: {', '.join(removed)}")
        return replace(self, label=new.label, description=new.description, options=new.options)

    def value(self, field: str, raw: Any) -> CustomValue:
        """The canonical value of ``raw`` for this field (``field`` names it in errors)."""
        parse = _VALUE_PARSERS[self.type]
        try:
            return parse(self, raw)
        except (ValueError, TypeError, InvalidOperation):
            raise RuleViolation(field, _EXPECTED[self.type](self)) from None


def _string(definition: FieldDefinition, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > STRING_MAX_LENGTH:
        raise ValueError(raw)
    return raw.strip()


def _number(definition: FieldDefinition, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise TypeError(raw)
    number = Decimal(str(raw).strip())
    if not number.is_finite():
        raise ValueError(raw)
    # Without Decimal.normalize(), which rounds to the context's 28 digits.
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _boolean(definition: FieldDefinition, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if isinstance(raw, str) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(raw)


def _date(definition: FieldDefinition, raw: Any) -> str:
    if isinstance(raw, date):
        return raw.isoformat()
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw.strip()):
        raise ValueError(raw)
    return date.fromisoformat(raw.strip()).isoformat()


def _enum(definition: FieldDefinition, raw: Any) -> str:
    if raw not in definition.options:
        raise ValueError(raw)
    return str(raw)


_VALUE_PARSERS: dict[FieldType, Callable[[FieldDefinition, Any], CustomValue]] = {
    FieldType.STRING: _string,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.ENUM: _enum,
}
_EXPECTED: dict[FieldType, Callable[[FieldDefinition], str]] = {
    FieldType.STRING: lambda d: f"must be text of 1 to {STRING_MAX_LENGTH} characters",
    FieldType.NUMBER: lambda d: "must be a number",
    FieldType.BOOLEAN: lambda d: "must be true or false",
    FieldType.DATE: lambda d: "must be a date YYYY-MM-DD",
    FieldType.ENUM: lambda d: f"must be one of {', '.join(d.options)}",
}

Definitions = Mapping[str, FieldDefinition]


def custom_values(
    field: str, raw: Mapping[str, Any] | None, definitions: Definitions
) -> dict[str, CustomValue]:
    """Canonical values of the custom fields in ``raw``; a ``None`` value means absent."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RuleViolation(field, "must be an object of custom field values")
    values: dict[str, CustomValue] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name not in definitions:
            raise RuleViolation(f"{field}.{name}", "no such custom field: define it first")
        values[name] = definitions[name].value(f"{field}.{name}", value)
    return dict(sorted(values.items()))


def typed_values(
    values: Mapping[str, CustomValue], definitions: Definitions
) -> dict[str, FieldValue]:
    """The values with those of number fields as numbers: integers exactly, others as the
    nearest double (exact up to 15 significant digits)."""
    return {
        name: _as_number(value)
        if isinstance(value, str)
        and name in definitions
        and definitions[name].type is FieldType.NUMBER
        else value
        for name, value in values.items()
    }


def _as_number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def catalog_id(kind: RecordKind) -> UUID:
    return uuid.uuid5(_CATALOG_NAMESPACE, kind.value)


class CustomFieldCatalog(Aggregate):
    """The custom fields defined for one kind of record (people, or organizations)."""

    id: UUID

    @classmethod
    def open(cls, kind: RecordKind) -> CustomFieldCatalog:
        catalog: CustomFieldCatalog = cls(id=catalog_id(kind), record_kind=kind.value)
        return catalog

    @event("Opened")
    def __init__(self, record_kind: str) -> None:
        self.record_kind = RecordKind(record_kind)
        self.definitions: dict[str, FieldDefinition] = {}

    def define(self, name: str, raw: Mapping[str, Any]) -> tuple[FieldDefinition, bool]:
        """Define or revise the field; the definition and whether anything changed."""
        definition = FieldDefinition.parse(name, raw)
        current = self.definitions.get(name)
        if current is not None:
            definition = current.revised(definition)
        if definition == current:
            return definition, False
        self._defined(definition=to_json(definition))
        return definition, True

    @event("FieldDefined")
    def _defined(self, definition: dict[str, Any]) -> None:
        parsed: FieldDefinition = from_json(FieldDefinition, definition)
        self.definitions[parsed.name] = parsed
