"""Lead scoring: configurable rules over a lead's attributes and its behaviour.

A rule set is a list of rules, each worth some points (negative ones subtract). Attribute rules
apply once (the lead comes from a web form, its title contains "director"...); behaviour rules
apply per interaction or campaign response, up to ``max_count`` times. The score is the sum of the
reasons, one per rule that applied, so a salesperson sees why a lead scores what it does.

Sales admins publish rule sets; each publication is a revision. Revision 1 is the built-in set,
in force from the start (and stored with the first publication). Scores name the revision they
were computed with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ...shared.domain.errors import RuleViolation
from ...shared.domain.values import DERIVED_ID_NAMESPACE, member, required_text, slug

SCORING_RULES_ID = uuid5(DERIVED_ID_NAMESPACE, "scoring-rules")
MAX_RULES = 100
MAX_POINTS = 100
MAX_VALUES = 50
MAX_COUNT = 100

# Lead attributes a rule may test; custom form fields are named "fields.<name>".
ATTRIBUTES = (
    "source",
    "country",
    "industry",
    "company_size",
    "title",
    "company",
    "email",
    "email_domain",
    "phone",
    "campaign_id",
    "customer_id",
)
NUMERIC_ATTRIBUTES = ("company_size",)
CUSTOM_FIELD_PREFIX = "fields."
INTERACTION_CHANNELS = ("email", "phone", "chat", "meeting", "social", "letter", "web", "sms")
INTERACTION_DIRECTIONS = ("inbound", "outbound")
RESPONSE_KINDS = (
    "form_submission",
    "reply",
    "offer_click",
    "call_back_request",
    "event_registration",
    "download",
)


class RuleKind(StrEnum):
    ATTRIBUTE_IN = "attribute_in"  # the attribute equals one of the values (case-insensitive)
    ATTRIBUTE_CONTAINS = "attribute_contains"  # it contains one of the values
    ATTRIBUTE_PRESENT = "attribute_present"  # it has a value
    ATTRIBUTE_BETWEEN = "attribute_between"  # a number within minimum..maximum (inclusive)
    INTERACTION = "interaction"  # per interaction on the values' channels (any when empty)
    CAMPAIGN_RESPONSE = "campaign_response"  # per response of the values' kinds (any when empty)

    @property
    def is_behaviour(self) -> bool:
        return self in (RuleKind.INTERACTION, RuleKind.CAMPAIGN_RESPONSE)


@dataclass(frozen=True)
class Interaction:
    """A contact between the business and the lead's customer (from the contacts service)."""

    interaction_id: UUID
    channel: str
    direction: str
    occurred_at: datetime


@dataclass(frozen=True)
class CampaignResponse:
    """The lead answered a campaign (from the marketing service)."""

    response_id: UUID
    campaign_id: UUID
    kind: str
    responded_at: datetime


@dataclass(frozen=True)
class LeadProfile:
    """What rules look at: attribute values (None when absent) and behaviour so far."""

    attributes: Mapping[str, object]
    interactions: Sequence[Interaction] = ()
    responses: Sequence[CampaignResponse] = ()


@dataclass(frozen=True)
class Reason:
    rule_id: str
    points: int
    explanation: str


@dataclass(frozen=True)
class Score:
    points: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ScoringRule:
    rule_id: str
    kind: RuleKind
    points: int
    explanation: str
    attribute: str | None = None
    values: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    direction: str | None = None
    max_count: int = 1

    def __post_init__(self) -> None:
        # Stored events give enums and tuples back as strings and lists.
        object.__setattr__(self, "kind", RuleKind(self.kind))
        object.__setattr__(self, "values", tuple(self.values))

    def reason(self, profile: LeadProfile) -> Reason | None:
        """Why this rule adds points to the profile, or None when it does not apply."""
        if self.kind.is_behaviour:
            count = min(self._occurrences(profile), self.max_count)
            if count == 0:
                return None
            explanation = self.explanation if count == 1 else f"{self.explanation} (x{count})"
            return Reason(self.rule_id, self.points * count, explanation)
        assert self.attribute is not None
        if not self._matches(profile.attributes.get(self.attribute)):
            return None
        return Reason(self.rule_id, self.points, self.explanation)

    def _matches(self, value: object) -> bool:
        if value is None or value == "":
            return False
        if self.kind is RuleKind.ATTRIBUTE_PRESENT:
            return True
        if self.kind is RuleKind.ATTRIBUTE_BETWEEN:
            return _number_between(value, self.minimum, self.maximum)
        text = str(value).casefold()
        wanted = [v.casefold() for v in self.values]
        if self.kind is RuleKind.ATTRIBUTE_IN:
            return text in wanted
        return any(v in text for v in wanted)

    def _occurrences(self, profile: LeadProfile) -> int:
        if self.kind is RuleKind.INTERACTION:
            return sum(
                1
                for i in profile.interactions
                if (not self.values or i.channel in self.values)
                and (self.direction is None or i.direction == self.direction)
            )
        return sum(1 for r in profile.responses if not self.values or r.kind in self.values)


def _number_between(value: object, minimum: Decimal | None, maximum: Decimal | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    number = Decimal(str(value))
    return (minimum is None or number >= minimum) and (maximum is None or number <= maximum)


@dataclass(frozen=True)
class RuleSet:
    revision: int
    rules: tuple[ScoringRule, ...] = field(default=())

    def score(self, profile: LeadProfile) -> Score:
        reasons = tuple(r for rule in self.rules if (r := rule.reason(profile)) is not None)
        return Score(sum(r.points for r in reasons), reasons)


def rule(
    index: int,
    *,
    rule_id: str,
    kind: str,
    points: int,
    explanation: str,
    attribute: str | None = None,
    values: Sequence[str] = (),
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    direction: str | None = None,
    max_count: int = 1,
) -> ScoringRule:
    """One validated rule; ``index`` places errors on ``rules.<index>.<field>``."""
    at = f"rules.{index}"
    rule_kind = member(RuleKind, kind, f"{at}.kind")
    if isinstance(points, bool) or not (0 < abs(points) <= MAX_POINTS):
        raise RuleViolation(f"{at}.points", f"must be -{MAX_POINTS}..{MAX_POINTS}, not 0")
    if not 1 <= max_count <= MAX_COUNT:
        raise RuleViolation(f"{at}.max_count", f"must be 1 to {MAX_COUNT}")
    checked_values = _values(rule_kind, values, f"{at}.values")
    if rule_kind.is_behaviour:
        if attribute is not None:
            raise RuleViolation(f"{at}.attribute", "behaviour rules test no attribute")
        if direction is not None and (
            rule_kind is not RuleKind.INTERACTION or direction not in INTERACTION_DIRECTIONS
        ):
            raise RuleViolation(f"{at}.direction", "must be inbound or outbound (interactions)")
    else:
        attribute = _attribute(rule_kind, attribute, f"{at}.attribute")
        if direction is not None:
            raise RuleViolation(f"{at}.direction", "only interaction rules have a direction")
        if max_count != 1:
            raise RuleViolation(f"{at}.max_count", "attribute rules apply once")
    _bounds(rule_kind, minimum, maximum, at)
    return ScoringRule(
        rule_id=slug(rule_id, f"{at}.rule_id"),
        kind=rule_kind,
        points=points,
        explanation=required_text(f"{at}.explanation", explanation),
        attribute=attribute,
        values=checked_values,
        minimum=minimum,
        maximum=maximum,
        direction=direction,
        max_count=max_count,
    )


def _attribute(kind: RuleKind, attribute: str | None, at: str) -> str:
    custom = attribute is not None and attribute.startswith(CUSTOM_FIELD_PREFIX)
    if attribute is None or not (attribute in ATTRIBUTES or custom):
        raise RuleViolation(at, f"must be one of {', '.join(ATTRIBUTES)} or fields.<name>")
    if kind is RuleKind.ATTRIBUTE_BETWEEN and not (custom or attribute in NUMERIC_ATTRIBUTES):
        raise RuleViolation(at, "ranges apply to company_size or custom fields")
    return attribute


def _values(kind: RuleKind, values: Sequence[str], at: str) -> tuple[str, ...]:
    checked = tuple(v.strip() for v in values)
    if len(checked) > MAX_VALUES or any(not v or len(v) > 100 for v in checked):
        raise RuleViolation(at, f"at most {MAX_VALUES} values of 1 to 100 characters")
    allowed = {
        RuleKind.INTERACTION: INTERACTION_CHANNELS,
        RuleKind.CAMPAIGN_RESPONSE: RESPONSE_KINDS,
    }.get(kind)
    if allowed is not None and (unknown := [v for v in checked if v not in allowed]):
        raise RuleViolation(at, f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    needs_values = kind in (RuleKind.ATTRIBUTE_IN, RuleKind.ATTRIBUTE_CONTAINS)
    if needs_values != bool(checked) and not kind.is_behaviour:
        raise RuleViolation(at, f"{kind} rules {'need' if needs_values else 'take no'} values")
    return checked


def _bounds(kind: RuleKind, minimum: Decimal | None, maximum: Decimal | None, at: str) -> None:
    if kind is not RuleKind.ATTRIBUTE_BETWEEN:
        if minimum is not None or maximum is not None:
            raise RuleViolation(f"{at}.minimum", "only attribute_between rules have bounds")
        return
    if minimum is None and maximum is None:
        raise RuleViolation(f"{at}.minimum", "give a minimum, a maximum or both")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise RuleViolation(f"{at}.maximum", "must not be below the minimum")


def checked_rules(rules: Sequence[ScoringRule]) -> tuple[ScoringRule, ...]:
    if len(rules) > MAX_RULES:
        raise RuleViolation("rules", f"at most {MAX_RULES} rules")
    ids = [r.rule_id for r in rules]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise RuleViolation("rules", f"rule ids must be unique: {', '.join(duplicates)}")
    return tuple(rules)


DEFAULT_RULES = (
        ScoringRule("web-form", RuleKind.ATTRIBUTE_IN, 10, "Filled in a web form",
                    attribute="source", values=("web_form",)),
        ScoringRule("campaign", RuleKind.ATTRIBUTE_IN, 10, "Came from a campaign",
                    attribute="source", values=("campaign",)),
        ScoringRule("decision-maker", RuleKind.ATTRIBUTE_CONTAINS, 15, "Title of a decision maker",
                    attribute="title", values=("chief", "director", "head", "vp", "owner")),
        ScoringRule("company-size", RuleKind.ATTRIBUTE_BETWEEN, 10, "Company of 50 or more",
                    attribute="company_size", minimum=Decimal(50)),
        ScoringRule("has-email", RuleKind.ATTRIBUTE_PRESENT, 5, "E-mail address known",
                    attribute="email"),
        ScoringRule("has-phone", RuleKind.ATTRIBUTE_PRESENT, 5, "Phone number known",
                    attribute="phone"),
        ScoringRule("inbound-contact", RuleKind.INTERACTION, 5, "Contacted us",
                    direction="inbound", max_count=4),
        ScoringRule("campaign-response", RuleKind.CAMPAIGN_RESPONSE, 10,
                    "Answered a campaign", max_count=3),
)  # fmt: skip


class ScoringRules(Aggregate):
    """The published rule sets; each publication is a revision, numbered by the version."""

    id: UUID

    @classmethod
    def initial(cls) -> ScoringRules:
        """Revision 1, the built-in rules: saved along with the first publication."""
        scoring_rules: ScoringRules = cls(
            id=SCORING_RULES_ID, rules=list(DEFAULT_RULES), published_by="system"
        )
        return scoring_rules

    @event("Published")
    def __init__(self, rules: list[ScoringRule], published_by: str) -> None:
        self.rules = tuple(rules)
        self.published_by = published_by

    def publish(self, rules: Sequence[ScoringRule], *, published_by: str) -> bool:
        """Publish the next revision; False (no event) when the rules are the current ones."""
        checked = checked_rules(rules)
        if checked == self.rules:
            return False
        self._republished(rules=list(checked), published_by=published_by)
        return True

    @event("Republished")
    def _republished(self, rules: list[ScoringRule], published_by: str) -> None:
        self.rules = tuple(rules)
        self.published_by = published_by

    @property
    def rule_set(self) -> RuleSet:
        return RuleSet(revision=self.version, rules=self.rules)
