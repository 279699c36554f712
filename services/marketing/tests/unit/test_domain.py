from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_marketing.domain import (
    AudienceProfile,
    CallOutcome,
    Campaign,
    CampaignChannel,
    EmailContent,
    InvalidTransition,
    RuleViolation,
    Status,
    materialize,
    message_id,
    parse_rule,
    reach,
    reach_key,
)
from crm_marketing.domain.profile import ContactDetails

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CHANNELS = ("email", "phone")
PURPOSES = ("marketing", "research")


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ([], "rule"),
        ({"all": []}, "rule.all"),
        (
            {"all": [{"attribute": "shoe_size", "operator": "equals", "value": "9"}]},
            "rule.all.0.attribute",
        ),
        ({"any": [{"attribute": "region", "operator": "gt", "value": "x"}]}, "rule.any.0.operator"),
        ({"attribute": "tags", "operator": "contains", "value": ""}, "rule.value"),
        ({"attribute": "orders", "operator": "gt", "value": 1.5}, "rule.value"),
        ({"attribute": "orders", "operator": "gt", "value": "NaN"}, "rule.value"),
        ({"attribute": "last_purchase_at", "operator": "gt", "value": "2026-01-01"}, "rule.value"),
        ({"attribute": "last_purchase_at", "operator": "within_days", "value": True}, "rule.value"),
        ({"attribute": "region", "operator": "in", "value": ["a", 3]}, "rule.value.1"),
        ({"attribute": "lifetime_revenue.eur", "operator": "gt", "value": 1}, "rule.attribute"),
        ({"attribute": "region", "operator": "equals", "value": "x", "extra": 1}, "rule"),
    ],
)
def test_a_bad_rule_names_its_faulty_part(rule, field) -> None:
    with pytest.raises(RuleViolation) as refused:
        parse_rule(rule)
    assert refused.value.field == field


def test_rules_evaluate_over_facts() -> None:
    rule = parse_rule(
        {
            "all": [
                {"attribute": "tags", "operator": "contains", "value": "VIP"},
                {
                    "any": [
                        {"attribute": "lifetime_revenue.EUR", "operator": "gt", "value": "1000"},
                        {"attribute": "last_purchase_at", "operator": "within_days", "value": 30},
                    ]
                },
            ]
        }
    )
    facts = {"tags": frozenset({"vip"}), "lifetime_revenue.EUR": Decimal("1500")}
    assert rule.holds(facts, NOW)
    assert not rule.holds({**facts, "tags": frozenset()}, NOW)
    recent = {"tags": frozenset({"vip"}), "last_purchase_at": NOW - timedelta(days=3)}
    assert rule.holds(recent, NOW)
    assert not rule.holds({**recent, "last_purchase_at": NOW - timedelta(days=31)}, NOW)
    # An unknown fact satisfies no condition, "less than" included.
    assert not parse_rule({"attribute": "orders", "operator": "lt", "value": 5}).holds({}, NOW)


def profile_with(decisions, unsubscribed, erased) -> AudienceProfile:
    profile = AudienceProfile(id=uuid4())
    profile.learn_details(ContactDetails(email="a@b.org"), registered_at=NOW)
    for i, (channel, purpose, granted) in enumerate(decisions):
        profile.decide_consent(channel, purpose, granted, NOW + timedelta(minutes=i))
    for channel in unsubscribed:
        profile.unsubscribe(channel, NOW)
    if erased:
        profile.erase(NOW)
    return profile


profiles = st.builds(
    profile_with,
    st.lists(st.tuples(st.sampled_from(CHANNELS), st.sampled_from(PURPOSES), st.booleans())),
    st.sets(st.sampled_from(CHANNELS)),
    st.booleans(),
)


@given(st.lists(profiles, max_size=12), st.sampled_from(CHANNELS), st.sampled_from(PURPOSES))
def test_the_audience_never_holds_anyone_opted_out(people, channel, purpose) -> None:
    """What the index keeps of a profile (its reach) gives exactly ``may_receive``."""
    key = reach_key(channel, purpose)
    strangers = [(uuid4(), False), (uuid4(), False)]
    candidates = [(p.id, key in reach(p)) for p in people]
    audience = materialize([*candidates, *strangers, *candidates])
    by_id = {p.id: p for p in people}
    for customer in audience.recipients:
        profile = by_id[customer]
        granted, _ = profile.consents[(channel, purpose)]
        assert granted and channel not in profile.unsubscribed and not profile.erased
    reachable = {p.id for p in people if p.may_receive(channel, purpose)}
    assert set(audience.recipients) == reachable
    assert audience.excluded == len(by_id) + len(strangers) - len(reachable)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), min_size=1))
def test_the_consent_decided_last_is_in_force_whatever_the_arrival_order(decisions) -> None:
    profile = AudienceProfile(id=uuid4())
    for granted, minute in decisions:
        profile.decide_consent("email", "marketing", granted, NOW + timedelta(minutes=minute))
    latest = max(minute for _, minute in decisions)
    assert profile.consents[("email", "marketing")][1] == NOW + timedelta(minutes=latest)


def draft(
    channel: CampaignChannel = CampaignChannel.EMAIL,
    agents: list[str] | None = None,
    segment: UUID | None = None,
) -> Campaign:
    content = EmailContent("S", "<p>h</p>", "t", {"a": "https://x.example/a"}, ())
    return Campaign.draft(
        uuid4(),
        name="C",
        channel=channel,
        purpose="marketing",
        segment_ids=[segment or uuid4()],
        content=content if channel is CampaignChannel.EMAIL else None,
        agents=agents or [],
        created_by="me",
    )


def test_campaign_lifecycle() -> None:
    campaign = draft()
    campaign.schedule(NOW + timedelta(days=1), by="me", now=NOW)
    assert campaign.status == Status.SCHEDULED
    with pytest.raises(InvalidTransition):
        campaign.schedule(NOW + timedelta(days=2), by="me", now=NOW)
    campaign.launch((uuid4(),), 3, now=NOW)
    assert campaign.status == Status.RUNNING
    assert campaign.complete(NOW) and campaign.status == Status.COMPLETED
    with pytest.raises(InvalidTransition):
        campaign.cancel("late", by="me", now=NOW)


def test_an_empty_audience_completes_at_launch_and_a_past_schedule_is_refused() -> None:
    campaign = draft()
    with pytest.raises(RuleViolation) as refused:
        campaign.schedule(NOW - timedelta(days=1), by="me", now=NOW)
    assert refused.value.field == "launch_at"
    campaign.launch((), 5, now=NOW)
    assert campaign.status == Status.COMPLETED


def test_call_lists_are_shared_among_agents_and_the_last_call_completes() -> None:
    campaign = draft(CampaignChannel.TELEMARKETING, agents=["ann", "ben"])
    customers = tuple(sorted(uuid4() for _ in range(5)))
    campaign.launch(customers, 0, now=NOW)
    lists = {
        agent: [c for c, a in campaign.calls.items() if a == agent] for agent in ("ann", "ben")
    }
    assert (len(lists["ann"]), len(lists["ben"])) == (3, 2)
    with pytest.raises(RuleViolation) as refused:
        campaign.record_call(lists["ann"][0], CallOutcome.INTERESTED, agent="ben", now=NOW)
    assert refused.value.field == "agent"
    for agent, calls in lists.items():
        for customer in calls:
            campaign.record_call(customer, CallOutcome.NO_ANSWER, agent=agent, now=NOW)
    assert campaign.status == Status.COMPLETED


@pytest.mark.parametrize(
    ("links", "offers", "field"),
    [
        ({"a": "http://x.example"}, (), "content.links.a"),
        ({"a": "javascript:alert(1)"}, (), "content.links.a"),
        ({"a": "https://x.example/\r\nSet-Cookie: a=b"}, (), "content.links.a"),
        ({"a": "https:///no-host"}, (), "content.links.a"),
        ({"not ok": "https://x.example"}, (), "content.links.not ok"),
        ({"a": "https://x.example"}, ("b",), "content.offer_links.0"),
    ],
)
def test_campaign_links_are_https_and_named(links, offers, field) -> None:
    with pytest.raises(RuleViolation) as refused:
        EmailContent("S", "h", "t", links, offers).validated()
    assert refused.value.field == field


def test_message_ids_are_one_per_campaign_and_recipient() -> None:
    campaign, customer = uuid4(), uuid4()
    assert message_id(campaign, customer) == message_id(campaign, customer)
    assert isinstance(message_id(campaign, customer), UUID)
    assert message_id(campaign, customer) != message_id(uuid4(), customer)
