"""The audience index on real PostgreSQL: a launch's audience read in SQL never holds anyone
opted out, dynamic rules are checked again over the stored facts, and the index follows the
store exactly once even when two processes catch up at the same time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_marketing.application import MarketingApplication
from crm_marketing.application.audience_index import MEMBERS, PROFILES
from crm_marketing.bootstrap import build_application
from crm_marketing.domain import AudienceProfile, Campaign, CampaignChannel, EmailContent
from crm_marketing.domain.profile import ContactDetails

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
PURPOSES = ("marketing", "research")


@pytest.fixture
def app(postgres: Any) -> Iterator[MarketingApplication]:
    application = build_application(postgres)
    yield application
    application.close()


def person(
    decisions: list[tuple[str, str, bool]], unsubscribed: bool = False, erased: bool = False
) -> AudienceProfile:
    profile = AudienceProfile(id=uuid4())
    profile.learn_details(ContactDetails(email="p@example.org"), registered_at=NOW)
    for i, (channel, purpose, granted) in enumerate(decisions):
        profile.decide_consent(channel, purpose, granted, NOW + timedelta(seconds=i))
    if unsubscribed:
        profile.unsubscribe("email", NOW)
    if erased:
        profile.erase(NOW)
    return profile


def campaign_to(app: MarketingApplication, segment_id: UUID) -> Campaign:
    campaign_id = uuid4()
    app.draft_campaign(
        campaign_id,
        name="News",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment_id],
        content=EmailContent("S", "<p>h</p>", "t", {}, ()),
        agents=[],
        created_by="it",
        request_fingerprint="f",
    )
    return app.campaign(campaign_id)


def static_segment(app: MarketingApplication, *people: AudienceProfile) -> UUID:
    segment = app.define_segment(
        uuid4(), name="List", rule=None, defined_by="it", request_fingerprint="f"
    ).value
    for profile in people:
        segment.add_by_hand(profile.id, NOW)
    app.save(segment)
    return segment.id


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.lists(
                st.tuples(
                    st.sampled_from(("email", "phone")), st.sampled_from(PURPOSES), st.booleans()
                ),
                max_size=4,
            ),
            st.booleans(),  # unsubscribed from e-mail
            st.booleans(),  # erased
        ),
        max_size=8,
    )
)
def test_the_sql_audience_never_holds_anyone_opted_out(app: MarketingApplication, people) -> None:
    profiles = [person(*spec) for spec in people]
    app.save(*profiles)
    stranger = uuid4()  # in the list, unknown to marketing
    segment_id = static_segment(app, *profiles)
    app.change_membership(segment_id, stranger, member=True, expected_version=None)
    audience = app.materialize_audience(campaign_to(app, segment_id), NOW)
    reachable = {p.id for p in profiles if p.may_receive("email", "marketing")}
    assert set(audience.recipients) == reachable
    assert audience.excluded == len(profiles) + 1 - len(reachable)


def test_dynamic_rules_are_checked_again_over_the_stored_facts(app: MarketingApplication) -> None:
    """Facts of every kind survive the index (instants, amounts, tags), and time moving on
    takes a "bought within 30 days" customer out without any event."""
    buyer = person([("email", "marketing", True)])
    buyer.learn_details(ContactDetails(email="b@example.org", tags=frozenset({"VIP"})))
    buyer.record_order(uuid4(), NOW - timedelta(days=5))
    buyer.record_payment(uuid4(), Decimal("250.00"), "EUR")
    app.save(buyer)
    rule = {
        "all": [
            {"attribute": "last_purchase_at", "operator": "within_days", "value": 30},
            {"attribute": "lifetime_revenue.EUR", "operator": "gt", "value": "100"},
            {"attribute": "tags", "operator": "contains", "value": "vip"},
        ]
    }
    segment = app.define_segment(
        uuid4(), name="Recent VIPs", rule=rule, defined_by="it", request_fingerprint="g"
    ).value
    assert segment.members == {buyer.id}
    campaign = campaign_to(app, segment.id)
    assert app.materialize_audience(campaign, NOW).recipients == (buyer.id,)
    later = app.materialize_audience(campaign, NOW + timedelta(days=40))
    assert later.recipients == () and later.excluded == 0


def test_the_index_follows_the_store_exactly_once(app: MarketingApplication, postgres) -> None:
    """Two processes catching up side by side apply each page once; an unsubscribe and a
    removal reach the index with the next catch-up."""
    profiles = [person([("email", "marketing", True)]) for _ in range(5)]
    app.save(*profiles)
    segment_id = static_segment(app, *profiles)
    other = build_application(postgres)
    try:
        applied = app.catch_up_audience_index() + other.catch_up_audience_index()
        assert applied == 5 * 3 + 1 + 5  # started, details, consent; the list, its members
        assert other.catch_up_audience_index() == 0
        quitter, removed = app.profile(profiles[0].id), profiles[1].id
        quitter.unsubscribe("email", NOW)
        app.save(quitter)
        app.change_membership(segment_id, removed, member=False, expected_version=None)
        audience = other.materialize_audience(campaign_to(other, segment_id), NOW)
    finally:
        other.close()
    assert set(audience.recipients) == {p.id for p in profiles[2:]}
    assert audience.excluded == 1
    with psycopg.connect(postgres.dsn(postgres.database)) as conn:
        assert conn.execute(f"SELECT count(*) FROM {PROFILES}").fetchone() == (5,)
        assert conn.execute(f"SELECT count(*) FROM {MEMBERS}").fetchone() == (4,)
