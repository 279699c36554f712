"""The customer file as marketing reads it: family members, important dates, tastes, custom fields.

Contacts publishes them sealed (``crm_events.contacts.customer_v2``); the profile keeps them in
the JSON-native shapes below, so that its events need no codec of their own:

- family: ``[{"name": str, "relation": str, "birthday": "MM-DD" | None}]``
- important dates: ``[{"kind": str, "label": str | None, "date": "MM-DD"}]``
- tastes (contacts' free preferences, ``preferences.other``): ``{name: text}``
- custom fields: ``{name: str | bool | number}`` (numbers as contacts sends them)

Dates recur every year ("annual dates", ``MM-DD``): what matters is how many days remain until
the next one. Those on 29 February fall on the 28th in other years.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

FAMILY = "family"
IMPORTANT_DATE = "important_date"
TASTES = "tastes"
CUSTOM = "custom"
# What contacts names them: relations of family members and kinds of important dates.
RELATIONS = (
    "spouse",
    "partner",
    "child",
    "parent",
    "sibling",
    "grandparent",
    "grandchild",
    "other",
)
DATE_KINDS = ("birthday", "anniversary", "custom")


def annual(raw: Mapping[str, Any] | None) -> str | None:
    """``{"month", "day", "year"?}`` as ``MM-DD``; None when absent or no day of a (leap) year,
    so that no date a later round computes can fail on it."""
    try:
        month, day = int(raw["month"]), int(raw["day"])  # type: ignore[index]
        date(2000, month, day)
    except (TypeError, KeyError, ValueError):
        return None
    return f"{month:02d}-{day:02d}"


def family_of(raw: Iterable[Mapping[str, Any]] | None) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "name": member.get("name"),
            "relation": member.get("relation"),
            "birthday": annual(member.get("birthday")),
        }
        for member in raw or ()
    )


def important_dates_of(raw: Iterable[Mapping[str, Any]] | None) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"kind": entry.get("kind"), "label": entry.get("label"), "date": annual(entry.get("date"))}
        for entry in raw or ()
        if annual(entry.get("date"))
    )


def occurs_on(annual_date: str, year: int) -> date:
    month, day = (int(part) for part in annual_date.split("-"))
    if (month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return date(year, month, day)


def next_occurrence(annual_date: str, today: date) -> date:
    """The day ``annual_date`` next falls on, today included."""
    this_year = occurs_on(annual_date, today.year)
    return this_year if this_year >= today else occurs_on(annual_date, today.year + 1)


def days_until(annual_date: str, today: date) -> int:
    return (next_occurrence(annual_date, today) - today).days


def falls_in(annual_dates: Iterable[str], today: date, days: int) -> bool:
    """Whether one of ``annual_dates`` falls within the next ``days`` days (today is day 0)."""
    return any(days_until(d, today) <= days for d in annual_dates)


def annual_attributes(
    birthday: str | None,
    family: Iterable[Mapping[str, Any]],
    important_dates: Iterable[Mapping[str, Any]],
) -> dict[str, frozenset[str]]:
    """The annual dates rules read, by attribute: ``birthday`` (the customer's own),
    ``family.birthday`` (any family member's), ``family.<relation>.birthday`` and
    ``important_date.<kind>``; attributes without a date are left out."""
    found: dict[str, set[str]] = {}

    def add(name: str, day: str | None) -> None:
        if day is not None:
            found.setdefault(name, set()).add(day)

    add("birthday", birthday)
    for member in family:
        add(f"{FAMILY}.birthday", member["birthday"])
        add(f"{FAMILY}.{member['relation']}.birthday", member["birthday"])
    for entry in important_dates:
        add(f"{IMPORTANT_DATE}.{entry['kind']}", entry["date"])
    return {name: frozenset(days) for name, days in found.items()}


class Blank(dict[str, Any]):
    """Values a template may ask for by any name (a taste, a custom field): one the customer
    has not got reads as empty, so ``{% if tastes.wine %}`` needs no guard."""

    def __missing__(self, key: str) -> Any:
        return ""


class Sample(Blank):
    """The drafting render's: any name has a value as long as a real one can be."""

    text = ""

    def __missing__(self, key: str) -> Any:
        return self.text


def template_values(
    family: Iterable[Mapping[str, Any]],
    important_dates: Iterable[Mapping[str, Any]],
    tastes: Mapping[str, str],
    custom_fields: Mapping[str, Any],
    today: date,
) -> dict[str, Any]:
    """What templates read of the customer file: ``family.<relation>`` (the first member of
    that relation, or an empty one: ``known`` false), ``family_members``, ``important_dates``
    and ``next_important_date`` (each ``kind``, ``label``, ``date`` of its next occurrence and
    ``in_days``), ``tastes.<name>`` and ``custom.<field>``."""
    members = [_member(m, today) for m in family]
    relatives = {relation: _member({"relation": relation}, today) for relation in RELATIONS}
    for member in reversed(members):
        relatives[member["relation"]] = member
    dates = sorted((_date(e, today) for e in important_dates), key=lambda e: e["in_days"])
    return {
        FAMILY: relatives,
        "family_members": members,
        "important_dates": dates,
        "next_important_date": dates[0] if dates else _date({}, today),
        TASTES: Blank({name.casefold(): value for name, value in tastes.items()}),
        CUSTOM: Blank(custom_fields),
    }


def _member(member: Mapping[str, Any], today: date) -> dict[str, Any]:
    name = member.get("name") or ""
    upcoming = _occasion(member.get("birthday"), today)
    return {
        "known": bool(name),
        "name": name,
        "first_name": name.split()[0] if name.split() else "",
        "relation": member["relation"],
        "birthday": upcoming["date"],
        "birthday_in_days": upcoming["in_days"],
    }


def _date(entry: Mapping[str, Any], today: date) -> dict[str, Any]:
    kind, label = entry.get("kind") or "", entry.get("label") or ""
    return {"kind": kind, "label": label, **_occasion(entry.get("date"), today)}


def _occasion(annual_date: str | None, today: date) -> dict[str, Any]:
    """The next occurrence (ISO date) and the days until it; empty values without a date."""
    if annual_date is None:
        return {"date": "", "in_days": ""}
    when = next_occurrence(annual_date, today)
    return {"date": when.isoformat(), "in_days": (when - today).days}


def sample_values(text: str, today: date) -> dict[str, Any]:
    """The customer file at its longest, for the drafting render: every relation known, a
    date of every kind, any taste or custom field."""
    family = [{"name": text, "relation": r, "birthday": "12-31"} for r in RELATIONS]
    dates = [{"kind": kind, "label": text, "date": "12-31"} for kind in DATE_KINDS]
    sample = Sample()
    sample.text = text
    return template_values(family, dates, {}, {}, today) | {TASTES: sample, CUSTOM: sample}
