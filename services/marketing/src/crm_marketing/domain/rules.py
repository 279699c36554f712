"""Rules of dynamic segments: conditions over a customer's attributes, combined with all/any.

A rule is JSON, kept as such in events (``{"all": [...]}``, ``{"any": [...]}`` or a condition
``{"attribute": "region", "operator": "in", "value": ["EU", "UK"]}``), and parsed into the tree
below, which checks every name, operator and value against the attribute's kind up front: a
segment never holds a rule that fails later on some customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from crm_platform.values import INSTANT_RANGE, within_range

from .errors import RuleViolation

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_TEXT = 200


class Kind(StrEnum):
    TEXT = "text"
    TAGS = "tags"
    NUMBER = "number"
    INSTANT = "instant"


class Operator(StrEnum):
    EQUALS = "equals"
    IN = "in"
    CONTAINS = "contains"
    GT = "gt"
    LT = "lt"
    WITHIN_DAYS = "within_days"


# Which operators make sense for which kind of attribute.
OPERATORS: dict[Kind, frozenset[Operator]] = {
    Kind.TEXT: frozenset({Operator.EQUALS, Operator.IN}),
    Kind.TAGS: frozenset({Operator.CONTAINS}),
    Kind.NUMBER: frozenset({Operator.EQUALS, Operator.GT, Operator.LT}),
    Kind.INSTANT: frozenset({Operator.GT, Operator.LT, Operator.WITHIN_DAYS}),
}

# ``lifetime_revenue.<ISO 4217 code>`` names the revenue in one currency.
ATTRIBUTES: dict[str, Kind] = {
    "region": Kind.TEXT,
    "country": Kind.TEXT,
    "language": Kind.TEXT,
    "tags": Kind.TAGS,
    "last_purchase_at": Kind.INSTANT,
    "customer_since": Kind.INSTANT,
    "orders": Kind.NUMBER,
    "open_tickets": Kind.NUMBER,
    "lifetime_revenue": Kind.NUMBER,
    "churn_risk": Kind.TEXT,  # analytics' level: low, medium or high
}


def attribute_kind(name: str, field: str) -> Kind:
    base, _, currency = name.partition(".")
    if base == "lifetime_revenue" and currency:
        if len(currency) == 3 and currency.isalpha() and currency.isupper():
            return Kind.NUMBER
        raise RuleViolation(field, "lifetime_revenue.<currency> needs an ISO 4217 code")
    if base in ATTRIBUTES and not currency and base != "lifetime_revenue":
        return ATTRIBUTES[base]
    raise RuleViolation(field, f"unknown attribute {name!r}; known: {sorted(ATTRIBUTES)}")


@dataclass(frozen=True)
class Condition:
    attribute: str
    operator: Operator
    value: Any  # normalized for the kind: str, frozenset[str], Decimal, datetime or int days

    def holds(self, attributes: Mapping[str, Any], now: datetime) -> bool:
        actual = attributes.get(self.attribute)
        if actual is None:
            return False  # an unknown fact satisfies no condition (not even "lt")
        match self.operator:
            case Operator.EQUALS:
                return bool(actual == self.value)
            case Operator.IN:
                return actual in self.value
            case Operator.CONTAINS:
                return self.value in actual
            case Operator.GT:
                return bool(actual > self.value)
            case Operator.LT:
                return bool(actual < self.value)
            case Operator.WITHIN_DAYS:
                return bool(now - timedelta(days=self.value) <= actual <= now)


@dataclass(frozen=True)
class Group:
    every: bool  # all (True) or any (False)
    parts: tuple[Condition | Group, ...]

    def holds(self, attributes: Mapping[str, Any], now: datetime) -> bool:
        results = (part.holds(attributes, now) for part in self.parts)
        return all(results) if self.every else any(results)


Rule = Condition | Group


def parse_rule(raw: Any, field: str = "rule") -> Rule:
    """The rule tree of JSON ``raw``; ``RuleViolation`` naming the place of the first fault."""
    counter = [0]
    return _parse(raw, field, 1, counter)


def _parse(raw: Any, field: str, depth: int, counter: list[int]) -> Rule:
    if not isinstance(raw, Mapping):
        raise RuleViolation(field, "must be an object")
    if depth > MAX_DEPTH:
        raise RuleViolation(field, f"rules nest at most {MAX_DEPTH} levels deep")
    if raw.keys() in ({"all"}, {"any"}):
        ((combinator, parts),) = raw.items()
        if not isinstance(parts, Sequence) or isinstance(parts, str) or not parts:
            raise RuleViolation(f"{field}.{combinator}", "must be a non-empty list")
        return Group(
            every=combinator == "all",
            parts=tuple(
                _parse(part, f"{field}.{combinator}.{i}", depth + 1, counter)
                for i, part in enumerate(parts)
            ),
        )
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise RuleViolation(field, f"a rule has at most {MAX_CONDITIONS} conditions")
    return _condition(raw, field)


def _condition(raw: Mapping[str, Any], field: str) -> Condition:
    if raw.keys() != {"attribute", "operator", "value"}:
        raise RuleViolation(field, "expected all/any, or attribute, operator and value")
    if not isinstance(raw["attribute"], str):
        raise RuleViolation(f"{field}.attribute", "must be a string")
    kind = attribute_kind(raw["attribute"], f"{field}.attribute")
    try:
        operator = Operator(raw["operator"])
    except ValueError:
        raise RuleViolation(f"{field}.operator", f"one of {[o.value for o in Operator]}") from None
    if operator not in OPERATORS[kind]:
        allowed = sorted(o.value for o in OPERATORS[kind])
        raise RuleViolation(f"{field}.operator", f"{raw['attribute']} allows {allowed}")
    value = _value(kind, operator, raw["value"], f"{field}.value")
    return Condition(raw["attribute"], operator, value)


def _value(kind: Kind, operator: Operator, raw: Any, field: str) -> Any:
    if operator is Operator.IN:
        if not isinstance(raw, list) or not raw or len(raw) > MAX_CONDITIONS:
            raise RuleViolation(field, f"must be a list of 1 to {MAX_CONDITIONS} values")
        return frozenset(_text(item, f"{field}.{i}") for i, item in enumerate(raw))
    if operator is Operator.WITHIN_DAYS:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 36_600:
            raise RuleViolation(field, "must be a whole number of days from 1 to 36600")
        return raw
    if kind in (Kind.TEXT, Kind.TAGS):
        return _text(raw, field)
    if kind is Kind.NUMBER:
        return _number(raw, field)
    return _instant(raw, field)


def _text(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_TEXT:
        raise RuleViolation(field, f"must be a text of 1 to {MAX_TEXT} characters")
    return raw.strip().casefold()


def _number(raw: Any, field: str) -> Decimal:
    # Strings too: amounts travel as decimal strings, never binary floats.
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise RuleViolation(field, "must be an integer or a decimal string")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise RuleViolation(field, "must be an integer or a decimal string") from None
    if not number.is_finite():
        raise RuleViolation(field, "must be finite")
    return number


def _instant(raw: Any, field: str) -> datetime:
    try:
        instant = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        instant = None
    if instant is None or instant.utcoffset() is None:
        raise RuleViolation(field, "must be an ISO 8601 instant with a time zone offset")
    if not within_range(instant):  # comparing it with a customer's instants must not overflow
        raise RuleViolation(field, f"must be {INSTANT_RANGE}")
    return instant
