"""Lead scoring rules: what each kind matches, validation, and score = sum of the reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.pipeline.domain.scoring import (
    DEFAULT_RULES,
    INTERACTION_CHANNELS,
    RESPONSE_KINDS,
    CampaignResponse,
    Interaction,
    LeadProfile,
    RuleSet,
    ScoringRules,
    rule,
)
from crm_sales.shared.domain.errors import RuleViolation

pytestmark = pytest.mark.unit


def make(kind: str, **options: Any) -> Any:
    return rule(
        0,
        rule_id="r",
        kind=kind,
        points=options.pop("points", 10),
        explanation="Because",
        **options,
    )


def profile(**attributes: object) -> LeadProfile:
    return LeadProfile(attributes)


def behaviour(interactions: list[tuple[str, str]] = (), responses: list[str] = ()) -> LeadProfile:  # type: ignore[assignment]
    now = datetime.now(UTC)
    return LeadProfile(
        {},
        [Interaction(uuid4(), channel, direction, now) for channel, direction in interactions],
        [CampaignResponse(uuid4(), uuid4(), kind, now) for kind in responses],
    )


@pytest.mark.parametrize(
    ("kind", "options", "attributes", "applies"),
    [
        ("attribute_in", {"attribute": "country", "values": ["DE", "AT"]}, {"country": "de"}, True),
        ("attribute_in", {"attribute": "country", "values": ["DE"]}, {"country": "FR"}, False),
        ("attribute_in", {"attribute": "country", "values": ["DE"]}, {"country": None}, False),
        (
            "attribute_contains",
            {"attribute": "title", "values": ["head"]},
            {"title": "Head of IT"},
            True,
        ),
        (
            "attribute_contains",
            {"attribute": "title", "values": ["head"]},
            {"title": "Engineer"},
            False,
        ),
        ("attribute_present", {"attribute": "phone"}, {"phone": "+4930123456"}, True),
        ("attribute_present", {"attribute": "phone"}, {"phone": ""}, False),
        (
            "attribute_between",
            {"attribute": "company_size", "minimum": Decimal(50)},
            {"company_size": 50},
            True,
        ),
        (
            "attribute_between",
            {"attribute": "company_size", "maximum": Decimal(9)},
            {"company_size": 10},
            False,
        ),
        (
            "attribute_between",
            {"attribute": "fields.budget", "minimum": Decimal("0.5"), "maximum": Decimal(2)},
            {"fields.budget": 1.5},
            True,
        ),
        (
            "attribute_between",
            {"attribute": "fields.budget", "minimum": Decimal(1)},
            {"fields.budget": "1000"},
            False,
        ),
        (
            "attribute_in",
            {"attribute": "fields.plan", "values": ["premium"]},
            {"fields.plan": "Premium"},
            True,
        ),
    ],
)
def test_attribute_rules(
    kind: str, options: dict[str, Any], attributes: dict[str, object], applies: bool
) -> None:
    reason = make(kind, **options).reason(profile(**attributes))
    assert (reason is not None) is applies
    if applies:
        assert (reason.rule_id, reason.points, reason.explanation) == ("r", 10, "Because")


def test_behaviour_rules_count_matching_occurrences_up_to_their_cap() -> None:
    inbound_email = make(
        "interaction", values=["email"], direction="inbound", max_count=2, points=5
    )
    any_response = make("campaign_response", points=-3, max_count=10)
    seen = behaviour(
        [
            ("email", "inbound"),
            ("email", "outbound"),
            ("email", "inbound"),
            ("email", "inbound"),
            ("phone", "inbound"),
        ],
        ["reply", "offer_click"],
    )

    counted = inbound_email.reason(seen)
    responded = any_response.reason(seen)

    assert counted is not None and (counted.points, counted.explanation) == (10, "Because (x2)")
    assert responded is not None and responded.points == -6
    assert inbound_email.reason(behaviour()) is None


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "astrology"}, "rules.0.kind"),
        ({"kind": "attribute_in", "attribute": "mood", "values": ["happy"]}, "rules.0.attribute"),
        ({"kind": "attribute_in", "attribute": "country"}, "rules.0.values"),
        ({"kind": "attribute_present", "attribute": "email", "values": ["x"]}, "rules.0.values"),
        (
            {"kind": "attribute_between", "attribute": "country", "minimum": Decimal(1)},
            "rules.0.attribute",
        ),
        ({"kind": "attribute_between", "attribute": "company_size"}, "rules.0.minimum"),
        (
            {
                "kind": "attribute_between",
                "attribute": "company_size",
                "minimum": Decimal(5),
                "maximum": Decimal(1),
            },
            "rules.0.maximum",
        ),
        (
            {"kind": "attribute_present", "attribute": "email", "minimum": Decimal(1)},
            "rules.0.minimum",
        ),
        ({"kind": "attribute_present", "attribute": "email", "max_count": 3}, "rules.0.max_count"),
        ({"kind": "attribute_present", "attribute": "email", "points": 0}, "rules.0.points"),
        ({"kind": "attribute_present", "attribute": "email", "points": 101}, "rules.0.points"),
        (
            {"kind": "attribute_present", "attribute": "email", "rule_id": "Not A Slug"},
            "rules.0.rule_id",
        ),
        (
            {"kind": "attribute_present", "attribute": "email", "explanation": " "},
            "rules.0.explanation",
        ),
        ({"kind": "interaction", "values": ["pigeon"]}, "rules.0.values"),
        ({"kind": "interaction", "direction": "sideways"}, "rules.0.direction"),
        ({"kind": "interaction", "attribute": "email"}, "rules.0.attribute"),
        ({"kind": "campaign_response", "direction": "inbound"}, "rules.0.direction"),
        ({"kind": "campaign_response", "max_count": 0}, "rules.0.max_count"),
    ],
)
def test_invalid_rules_name_the_field(options: dict[str, Any], field: str) -> None:
    arguments = {"rule_id": "r", "points": 10, "explanation": "Because", **options}
    with pytest.raises(RuleViolation) as refused:
        rule(0, **arguments)
    assert refused.value.field == field


def test_publishing_makes_revisions_and_refuses_duplicate_ids() -> None:
    rules = ScoringRules.initial()
    assert rules.rule_set == RuleSet(1, DEFAULT_RULES)

    assert rules.publish(list(DEFAULT_RULES), published_by="admin") is False
    assert rules.publish([make("attribute_present", attribute="email")], published_by="admin")
    assert (rules.rule_set.revision, rules.published_by) == (2, "admin")
    with pytest.raises(RuleViolation) as refused:
        rules.publish([make("attribute_present", attribute="email")] * 2, published_by="admin")
    assert refused.value.field == "rules"


ATTRIBUTE_VALUES = st.one_of(st.none(), st.sampled_from(["DE", "Head of IT", "", "acme", "x@y.z"]))
ATTRIBUTES = ["country", "title", "email", "company", "fields.plan"]

rules_strategy = st.lists(
    st.one_of(
        st.builds(
            lambda a, v: ("attribute_in", {"attribute": a, "values": v}),
            st.sampled_from(ATTRIBUTES),
            st.lists(st.sampled_from(["de", "acme"]), min_size=1),
        ),
        st.builds(
            lambda a, v: ("attribute_contains", {"attribute": a, "values": v}),
            st.sampled_from(ATTRIBUTES),
            st.lists(st.sampled_from(["head", "@"]), min_size=1),
        ),
        st.builds(lambda a: ("attribute_present", {"attribute": a}), st.sampled_from(ATTRIBUTES)),
        st.builds(
            lambda low: ("attribute_between", {"attribute": "company_size", "minimum": low}),
            st.decimals(0, 10_000, places=0),
        ),
        st.builds(
            lambda c, n: ("interaction", {"values": c, "max_count": n}),
            st.lists(st.sampled_from(INTERACTION_CHANNELS), max_size=2),
            st.integers(1, 5),
        ),
        st.builds(
            lambda k, n: ("campaign_response", {"values": k, "max_count": n}),
            st.lists(st.sampled_from(RESPONSE_KINDS), max_size=2),
            st.integers(1, 5),
        ),
    ),
    max_size=12,
)


@given(
    rules_strategy,
    st.lists(st.integers(-100, 100).filter(bool), min_size=12, max_size=12),
    st.dictionaries(st.sampled_from(ATTRIBUTES), ATTRIBUTE_VALUES),
    st.one_of(st.none(), st.integers(1, 100_000)),
    st.lists(
        st.tuples(st.sampled_from(INTERACTION_CHANNELS), st.sampled_from(["inbound", "outbound"])),
        max_size=8,
    ),
    st.lists(st.sampled_from(RESPONSE_KINDS), max_size=8),
)
def test_the_score_is_the_sum_of_its_reasons(
    specs: list[tuple[str, dict[str, Any]]],
    points: list[int],
    attributes: dict[str, object],
    company_size: int | None,
    interactions: list[tuple[str, str]],
    responses: list[str],
) -> None:
    rules = tuple(
        rule(i, rule_id=f"r{i}", kind=kind, points=points[i], explanation="e", **options)
        for i, (kind, options) in enumerate(specs)
    )
    seen = behaviour(interactions, responses)
    lead = LeadProfile(
        {**attributes, "company_size": company_size}, seen.interactions, seen.responses
    )

    score = RuleSet(1, rules).score(lead)

    assert score.points == sum(reason.points for reason in score.reasons)
    assert [r.rule_id for r in score.reasons] == [
        r.rule_id for r in rules if r.rule_id in {reason.rule_id for reason in score.reasons}
    ]
    for reason in score.reasons:
        matching = next(r for r in rules if r.rule_id == reason.rule_id)
        assert reason.points % matching.points == 0
        assert 1 <= reason.points // matching.points <= matching.max_count
