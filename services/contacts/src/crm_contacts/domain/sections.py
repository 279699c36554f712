"""Profiles described section by section: parsed from input, stored as JSON, changed by patches.

A profile (of a person, of an organization) is a frozen dataclass whose fields are its sections.
Input arrives as JSON values (from the API or a CSV row) and each section is validated and
normalized by its parser; a violation names its place, e.g. ``important_dates.1.day``. Events
store each section's normalized JSON value. Changes follow JSON Merge Patch (RFC 7396): objects
merge key by key, lists and texts are replaced, ``null`` removes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Generic, TypeVar, get_type_hints

from .codec import from_json, to_json
from .contact_points import contact_points
from .custom_fields import CustomValue, Definitions, custom_values
from .errors import RuleViolation, violations_at
from .values import normalize_tags, optional_text, required_text

MAX_ENTRIES = 50

P = TypeVar("P")
T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
SectionParser = Callable[[str, Any, Definitions], Any]


@dataclass(frozen=True)
class Sections(Generic[P]):
    """How the sections of the profile type ``profile`` are parsed, decoded and checked."""

    profile: type[P]
    parsers: Mapping[str, SectionParser]
    required: tuple[str, ...]
    record: str  # what the profile describes, for messages: "person"
    check: Callable[[P], None] = lambda profile: None  # rules spanning sections

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.profile))  # type: ignore[arg-type]

    @cached_property
    def _hints(self) -> dict[str, Any]:
        return get_type_hints(self.profile)

    def parse(self, raw: Mapping[str, Any], definitions: Definitions) -> dict[str, Any]:
        """The normalized JSON value of each section in ``raw`` (``None`` clears a section)."""
        parsed = {}
        for name, value in raw.items():
            parse = self.parsers.get(name)
            if parse is None:
                raise RuleViolation(name, f"is not a field of a {self.record}")
            if name in self.required and value is None:
                raise RuleViolation(name, "is required")
            parsed[name] = to_json(parse(name, value, definitions))
        return parsed

    def initial(self, raw: Mapping[str, Any], definitions: Definitions) -> dict[str, Any]:
        """Every section's JSON value for a new record: ``raw``'s, the others empty (``[]``...)."""
        for name in self.required:
            if raw.get(name) is None:
                raise RuleViolation(name, "is required")
        unknown = next((name for name in raw if name not in self.parsers), None)
        if unknown is not None:
            raise RuleViolation(unknown, f"is not a field of a {self.record}")
        sections = self.parse({name: raw.get(name) for name in self.names}, definitions)
        self.check(self.apply(self.profile(**{n: None for n in self.required}), sections))
        return sections

    def changes(
        self, profile: P, patch: Mapping[str, Any], definitions: Definitions
    ) -> dict[str, Any]:
        """The sections ``patch`` changes, as JSON values (unchanged ones left out)."""
        current = to_json(profile)
        patched = merge_patch(current, patch)
        parsed = self.parse({name: patched.get(name) for name in patch}, definitions)
        changes = {name: value for name, value in parsed.items() if value != current[name]}
        self.check(self.apply(profile, changes))
        return changes

    def apply(self, profile: P, sections: Mapping[str, Any] | None) -> P:
        """``profile`` with the sections stored as JSON; erased sections (``None``) left empty."""
        decoded = {
            name: from_json(self._hints[name], raw) for name, raw in (sections or {}).items()
        }
        return dataclasses.replace(profile, **decoded)  # type: ignore[type-var]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge recursively, anything else replaces, null removes."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


# --- section parsers: (field name, raw JSON value, custom field definitions) -> value ---------


def text(max_length: int) -> SectionParser:
    return lambda field, raw, _: required_text(
        field, raw if isinstance(raw, str) else "", max_length
    )


def optional(max_length: int) -> SectionParser:
    return lambda field, raw, _: optional_text(field, _string(field, raw), max_length)


def choice(enum: type[E]) -> SectionParser:
    def parse(field: str, raw: Any, _: Definitions) -> E | None:
        if raw is None:
            return None
        try:
            return enum(raw)
        except ValueError:
            raise RuleViolation(field, f"must be one of {', '.join(enum)}") from None

    return parse


def choices(enum: type[E]) -> SectionParser:
    """A set of enum members, in the enum's order."""

    def parse(field: str, raw: Any, definitions: Definitions) -> tuple[E, ...]:
        members = {
            choice(enum)(f"{field}.{i}", v, definitions) for i, v in enumerate(_list(field, raw))
        }
        return tuple(m for m in enum if m in members)

    return parse


def entries(parse: Callable[[Mapping[str, Any]], T]) -> SectionParser:
    """A list of entries parsed by ``parse``; an entry given twice is kept once."""

    def parse_all(field: str, raw: Any, _: Definitions) -> tuple[T, ...]:
        parsed = []
        for index, entry in enumerate(_list(field, raw)):
            with violations_at(f"{field}.{index}"):
                parsed.append(parse(as_object(entry)))
        return tuple(dict.fromkeys(parsed))

    return parse_all


def points(parse: Callable[[Mapping[str, Any]], T]) -> SectionParser:
    """Contact points: unique by normalized value, one primary."""
    return lambda field, raw, _: contact_points(field, _list(field, raw), parse)


def one(parse: Callable[[Mapping[str, Any]], T]) -> SectionParser:
    """An object section (absent: parsed from ``{}``, the defaults)."""

    def parse_one(field: str, raw: Any, _: Definitions) -> T:
        with violations_at(field):
            return parse(as_object(raw or {}))

    return parse_one


def tags(field: str, raw: Any, _: Definitions) -> tuple[str, ...]:
    return normalize_tags(_list(field, raw), field)


def custom_fields(field: str, raw: Any, definitions: Definitions) -> dict[str, CustomValue]:
    return custom_values(field, raw, definitions)


def as_object(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise RuleViolation("", "must be an object")
    return raw


def _list(field: str, raw: Any) -> Sequence[Any]:
    if raw is None:
        return ()
    if isinstance(raw, str | Mapping) or not isinstance(raw, Sequence):
        raise RuleViolation(field, "must be a list")
    if len(raw) > MAX_ENTRIES:
        raise RuleViolation(field, f"must have at most {MAX_ENTRIES} entries")
    entries: Sequence[Any] = raw
    return entries


def _string(field: str, raw: Any) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise RuleViolation(field, "must be text")
    return raw
