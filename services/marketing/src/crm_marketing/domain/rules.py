"""Rules of dynamic segments: conditions over a customer's attributes, combined with all/any.

A rule is JSON, kept as such in events (``{"all": [...]}``, ``{"any": [...]}`` or a condition
``{"attribute": "region", "operator": "in", "value": ["EU", "UK"]}``), and parsed into the tree
below, which checks every name, operator and value against the attribute's kind up front: a
segment never holds a rule that fails later on some customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

from crm_platform.values import INSTANT_RANGE, within_range

from .customer_file import CUSTOM, DATE_KINDS, FAMILY, IMPORTANT_DATE, RELATIONS, TASTES, falls_in
from .errors import RuleViolation

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_TEXT = 200


class Kind(StrEnum):
    TEXT = "text"
    TAGS = "tags"
    NUMBER = "number"
    INSTANT = "instant"
    ANNUAL = "annual"  # dates that recur every year (MM-DD): birthdays, anniversaries
    CUSTOM = "custom"  # a custom field: compared as the rule's value is typed


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
    Kind.ANNUAL: frozenset({Operator.WITHIN_DAYS}),
    Kind.CUSTOM: frozenset({Operator.EQUALS, Operator.IN, Operator.GT, Operator.LT}),
}
MAX_ANNUAL_DAYS = 366

# ``lifetime_revenue.<ISO 4217 code>`` names the revenue in one currency; the customer file's
# attributes are ``birthday``, ``family.birthday``, ``family.<relation>.birthday``,
# ``important_date.<kind>`` (annual dates: ``within_days`` is "in the next N days", today is 0),
# ``tastes.<name>`` (text) and ``custom.<field>`` (typed by the rule's value).
ANNUAL = frozenset(
    {"birthday", f"{FAMILY}.birthday"}
    | {f"{FAMILY}.{relation}.birthday" for relation in RELATIONS}
    | {f"{IMPORTANT_DATE}.{kind}" for kind in DATE_KINDS}
)
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
    if name in ANNUAL:
        return Kind.ANNUAL
    if base in (TASTES, CUSTOM) and currency:
        return Kind.TEXT if base == TASTES else Kind.CUSTOM
    if base == "lifetime_revenue" and currency:
        if len(currency) == 3 and currency.isalpha() and currency.isupper():
            return Kind.NUMBER
        raise RuleViolation(field, "lifetime_revenue.<currency> needs an ISO 4217 code")
    if base in ATTRIBUTES and not currency and base != "lifetime_revenue":
        return ATTRIBUTES[base]
    known = [*sorted(ATTRIBUTES), *sorted(ANNUAL), f"{TASTES}.<name>", f"{CUSTOM}.<field>"]
    raise RuleViolation(field, f"unknown attribute {name!r}; known: {known}")


class AnnualTrigger(Protocol):
    @property
    def trigger(self) -> str: ...

    @property
    def date(self) -> str | None: ...

    @property
    def days_before(self) -> int: ...


def annual_date_of(automation: AnnualTrigger) -> None:
    """An ``AnnualDate`` automation names an annual date attribute and how many days ahead of
    it to send (0 to 366); no other names either."""
    if automation.trigger != "AnnualDate":
        if automation.date is not None or automation.days_before:
            raise RuleViolation("automation.date", "only an AnnualDate automation names a date")
        return
    if automation.date is None or automation.date not in ANNUAL:
        raise RuleViolation("automation.date", f"one of {sorted(ANNUAL)}")
    if not 0 <= automation.days_before <= MAX_ANNUAL_DAYS:
        raise RuleViolation("automation.days_before", f"from 0 to {MAX_ANNUAL_DAYS}")


@dataclass(frozen=True)
class Condition:
    attribute: str
    operator: Operator
    value: Any  # normalized for the kind: str, frozenset[str], Decimal, datetime or int days
    kind: Kind

    def holds(self, attributes: Mapping[str, Any], now: datetime) -> bool:
        actual = attributes.get(self.attribute)
        if actual is not None and self.kind is Kind.CUSTOM:
            actual = _like(actual, self.value)
        if actual is None:
            return False  # an unknown fact satisfies no condition (not even "lt")
        if self.kind is Kind.ANNUAL:
            return falls_in(actual, now.date(), self.value)
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


def gains_members_with_time(rule: Rule) -> bool:
    """Whether the rule may come to hold without any new fact: an annual date draws near (an
    instant "within the last N days" only ever stops holding)."""
    if isinstance(rule, Condition):
        return rule.kind is Kind.ANNUAL
    return any(gains_members_with_time(part) for part in rule.parts)


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
    if not isinstance(raw["attribute"], str) or len(raw["attribute"]) > MAX_TEXT:
        raise RuleViolation(f"{field}.attribute", f"must be a string of {MAX_TEXT} at most")
    kind = attribute_kind(raw["attribute"], f"{field}.attribute")
    try:
        operator = Operator(raw["operator"])
    except ValueError:
        raise RuleViolation(f"{field}.operator", f"one of {[o.value for o in Operator]}") from None
    if operator not in OPERATORS[kind]:
        allowed = sorted(o.value for o in OPERATORS[kind])
        raise RuleViolation(f"{field}.operator", f"{raw['attribute']} allows {allowed}")
    value = _value(kind, operator, raw["value"], f"{field}.value")
    attribute = raw["attribute"]
    if kind is Kind.TEXT and attribute.startswith(f"{TASTES}."):
        attribute = attribute.casefold()  # tastes are named as people typed them
    return Condition(attribute, operator, value, kind)


def _value(kind: Kind, operator: Operator, raw: Any, field: str) -> Any:
    if operator is Operator.IN:
        if not isinstance(raw, list) or not raw or len(raw) > MAX_CONDITIONS:
            raise RuleViolation(field, f"must be a list of 1 to {MAX_CONDITIONS} values")
        item_of = _custom if kind is Kind.CUSTOM else _text
        return frozenset(item_of(item, f"{field}.{i}") for i, item in enumerate(raw))
    if kind is Kind.ANNUAL:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_ANNUAL_DAYS:
            raise RuleViolation(
                field, f"must be a whole number of days from 0 to {MAX_ANNUAL_DAYS}"
            )
        return raw
    if kind is Kind.CUSTOM:
        value = _custom(raw, field)
        if operator in (Operator.GT, Operator.LT) and not isinstance(value, Decimal | date):
            raise RuleViolation(field, "gt and lt compare numbers or dates (YYYY-MM-DD)")
        return value
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


CustomValue = bool | Decimal | date | str


def _custom(raw: Any, field: str) -> CustomValue:
    """A custom field's value in a rule, typed by its JSON: a boolean, a number (an integer or
    a decimal string), a date (``YYYY-MM-DD``) or else a text (case-folded)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return Decimal(raw)
    text = _text(raw, field)
    return _parsed(text) or text


def _parsed(text: str) -> Decimal | date | None:
    try:
        number = Decimal(text)
        return number if number.is_finite() else None
    except InvalidOperation:
        pass
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _like(actual: Any, example: Any) -> CustomValue | None:
    """A customer's custom value as the type of the rule's ``example``; None when it is not one
    (a text is never "greater" than a number: that condition does not hold)."""
    if isinstance(example, frozenset):  # "in": compared item by item
        return actual if isinstance(actual, bool) else _plain(actual)
    if isinstance(example, bool):
        return actual if isinstance(actual, bool) else None
    if isinstance(actual, bool):
        return None
    plain = _plain(actual)
    if isinstance(example, Decimal):
        return plain if isinstance(plain, Decimal) else None
    if isinstance(example, date):
        return plain if isinstance(plain, date) else None
    return str(actual).strip().casefold()


def _plain(actual: Any) -> CustomValue:
    """Contacts sends numbers as decimal strings (or numbers), dates as ``YYYY-MM-DD``."""
    if isinstance(actual, int | float):
        return Decimal(str(actual))
    text = str(actual).strip().casefold()
    return _parsed(text) or text
