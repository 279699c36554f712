"""The audience index on real PostgreSQL: a launch's audience read in SQL never holds anyone
opted out, dynamic rules are checked again over the stored facts, the index follows the store
exactly once even when two processes catch up at the same time, and a profile it cannot hold (a
NUL in a fact) is quarantined while the index, the worker's loop and every launch go on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_marketing.application import MarketingApplication
from crm_marketing.application.audience_index import MEMBERS, PROFILES, PROJECTION, AudienceIndex
from crm_marketing.bootstrap import build_api, build_application
from crm_marketing.domain import AudienceProfile, Campaign, CampaignChannel, EmailContent
from crm_marketing.domain.profile import ContactDetails
from crm_platform.liveness import Registry
from crm_platform.quarantine import Entry, RecordRef, State
from crm_platform.testing import eventually_async
from crm_platform.web.testing import assert_problem, bearer

from ..feed import command

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
PURPOSES = ("marketing", "research")
ADMIN = bearer("marketing:admin")
WRITE = bearer("marketing:write", "marketing:read")


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
        command(),
        campaign_id,
        name="News",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment_id],
        content=EmailContent("S", "<p>h</p>", "t", {}, ()),
        agents=[],
    )
    return app.campaign(campaign_id)


def static_segment(app: MarketingApplication, *people: AudienceProfile) -> UUID:
    segment = app.define_segment(command(), uuid4(), name="List", rule=None).value
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
def test_a_launch_never_reaches_anyone_opted_out(app: MarketingApplication, people) -> None:
    profiles = [person(*spec) for spec in people]
    app.save(*profiles)
    stranger = uuid4()  # in the list, unknown to marketing
    segment_id = static_segment(app, *profiles)
    app.change_membership(segment_id, stranger, member=True, expected_version=None)
    launched = app.launch_campaign(command(), campaign_to(app, segment_id).id).value
    reachable = {p.id for p in profiles if p.may_receive("email", "marketing")}
    assert set(launched.recipients) == reachable
    assert launched.excluded == len(profiles) + 1 - len(reachable)


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
    segment = app.define_segment(command(), uuid4(), name="Recent VIPs", rule=rule).value
    assert segment.members == {buyer.id}
    campaign = campaign_to(app, segment.id)
    assert app.materialize_audience(campaign, NOW).recipients == (buyer.id,)
    later = app.materialize_audience(campaign, NOW + timedelta(days=40))
    assert later.recipients == () and later.excluded == 0


def test_the_index_follows_the_store_exactly_once(app: MarketingApplication, postgres) -> None:
    """Two processes catching up side by side apply each notification once; an unsubscribe and
    a removal reach the index with the next catch-up."""
    profiles = [person([("email", "marketing", True)]) for _ in range(5)]
    app.save(*profiles)
    segment_id = static_segment(app, *profiles)
    other = build_application(postgres)
    try:
        read = app.catch_up_audience_index() + other.catch_up_audience_index()
        assert read == app.recorder.max_notification_id()
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
        assert conn.execute(f"SELECT count(*) FROM {MEMBERS} WHERE member").fetchone() == (4,)


# --- a poison profile -----------------------------------------------------------------------


def poisoned(app: MarketingApplication, profile_id: UUID, region: str) -> int:
    """Save a change of region straight through the aggregate (the consumers refuse a NUL);
    the notification id of its event."""
    profile = app.profile(profile_id)
    profile.learn_details(ContactDetails(email="p@example.org", region=region))
    app.save(profile)
    return app.recorder.max_notification_id()


def row(app: MarketingApplication, postgres, customer_id: UUID) -> tuple[Any, ...] | None:
    with psycopg.connect(postgres.dsn(postgres.database)) as conn:
        return conn.execute(
            f"SELECT version, attributes->>'region' FROM {PROFILES} WHERE customer_id = %s",
            (customer_id,),
        ).fetchone()


def open_entries(index: AudienceIndex) -> list[Entry]:
    return index.quarantine.list(loop=PROJECTION, state=State.OPEN, limit=200).items


def test_a_profile_whose_fact_holds_a_nul_is_quarantined_and_the_index_goes_on(
    app: MarketingApplication, postgres
) -> None:
    index = app.audience_index
    victim = person([("email", "marketing", True)])
    app.save(victim)
    index.catch_up()
    position = poisoned(app, victim.id, "EM\x00EA")
    after = person([("email", "marketing", True)])
    app.save(after)

    index.catch_up()

    [entry] = open_entries(index)
    assert (entry.aggregate_id, entry.position, entry.state) == (str(victim.id), position, "held")
    assert "DataError" in entry.error_type or "Untranslatable" in entry.error_type
    assert "\x00" not in entry.error
    assert row(app, postgres, victim.id) == (victim.version, None)  # as before the poison
    assert row(app, postgres, after.id) == (after.version, None)  # the records after it applied
    assert index.position() == app.recorder.max_notification_id()

    assert index.retry(entry) is False  # still poisoned: the entry stays, one attempt more
    again = index.quarantine.get(entry.id)
    assert again is not None and (again.state, again.attempts) == ("held", 2)

    # A later event corrects the profile: it applies, and the entry's retry resolves it.
    poisoned(app, victim.id, "EMEA")
    index.catch_up()
    assert row(app, postgres, victim.id) == (victim.version + 2, "emea")
    assert index.retry(entry) is True
    resolved = index.quarantine.get(entry.id)
    assert resolved is not None and resolved.state == "resolved"
    assert open_entries(index) == []


def test_a_launch_goes_on_past_a_poison_profile_of_its_segment(
    app: MarketingApplication, postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_MARKETING_TRACKING_SECRET", "t" * 40)
    victim, other = (person([("email", "marketing", True)]) for _ in range(2))
    app.save(victim, other)
    segment_id = static_segment(app, victim, other)
    poisoned(app, victim.id, "\x00")
    campaign = campaign_to(app, segment_id)

    with TestClient(build_api(app)) as client:
        launched = client.post(
            f"/campaigns/{campaign.id}/launch",
            json={},
            headers={**WRITE, "Idempotency-Key": str(uuid4())},
        )
        entries = open_entries(app.audience_index)  # before the api closes the application

    assert launched.status_code == 200, launched.text
    # The victim as the index held them before the poison: consenting, so in the audience.
    assert (launched.json()["audience_size"], launched.json()["excluded"]) == (2, 0)
    assert [e.aggregate_id for e in entries] == [str(victim.id)]


async def test_the_worker_loop_keeps_the_index_current_past_a_poison_profile(
    app: MarketingApplication, postgres
) -> None:
    index = AudienceIndex(app)
    await asyncio.to_thread(index.create_tables)  # as the loop's setup does: the test reads them
    victim = person([("email", "marketing", True)])
    await asyncio.to_thread(app.save, victim)
    stop, registry = asyncio.Event(), Registry()
    loop = asyncio.create_task(index.loop(interval=0.05).run(stop, registry=registry))
    await asyncio.to_thread(poisoned, app, victim.id, "EM\x00EA")
    after = person([("email", "marketing", True)])
    await asyncio.to_thread(app.save, after)
    await eventually_async(lambda: row(app, postgres, after.id), what="the later profile's row")
    report = registry.reports()[f"loop:{PROJECTION}"]
    stop.set()
    await asyncio.wait_for(loop, timeout=10)

    assert row(app, postgres, after.id) == (after.version, None)
    assert not loop.cancelled() and loop.exception() is None
    assert report.alive and report.ready and report.state == "running"
    assert [e.aggregate_id for e in open_entries(index)] == [str(victim.id)]


def test_operators_list_and_retry_quarantined_records_through_the_admin_api(
    app: MarketingApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_MARKETING_TRACKING_SECRET", "t" * 40)
    victim = person([("email", "marketing", True)])
    app.save(victim)
    poisoned(app, victim.id, "EM\x00EA")
    app.catch_up_audience_index()
    loop_entry = app.audience_index.quarantine.put(
        "marketing-mailer", RecordRef(str(uuid4())), ValueError("a message it cannot send")
    )

    with TestClient(build_api(app)) as admin:
        listed = admin.get("/admin/quarantine", params={"loop": PROJECTION}, headers=ADMIN)
        assert listed.status_code == 200, listed.text
        [item] = listed.json()["items"]
        assert item["aggregate_id"] == str(victim.id) and item["state"] == "held"
        assert "\x00" not in item["error"]  # the error quotes the poison, made safe
        assert admin.get(f"/admin/quarantine/{item['id']}", headers=ADMIN).json() == item

        failed = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
        assert failed.json()["outcome"] == "failed" and failed.json()["entry"]["attempts"] == 2
        poisoned(app, victim.id, "EMEA")
        retried = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
        assert retried.json()["outcome"] == "resolved", retried.text
        assert_problem(admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN), 409)

        # A loop's entry is released: the loop tries the record on its next round.
        released = admin.post(f"/admin/quarantine/{loop_entry}/retry", headers=ADMIN)
        assert released.json()["outcome"] == "released"
        assert released.json()["entry"]["state"] == "released"
        assert_problem(admin.get("/admin/quarantine", headers=WRITE), 403)
