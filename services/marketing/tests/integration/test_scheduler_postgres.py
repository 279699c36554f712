"""The scheduler's loops on real PostgreSQL: a campaign that fails to launch, or a person whose
birthday greeting fails, is quarantined and skipped while the others go on, and done on the
loop's next round once released."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_marketing.application import MarketingApplication
from crm_marketing.application.scheduler import (
    ANNUAL_DATES,
    LAUNCHES,
    AnnualDates,
    launch_due,
    scheduler_loops,
)
from crm_marketing.bootstrap import build_application
from crm_marketing.domain import (
    AudienceProfile,
    AutomatedSend,
    Automation,
    CampaignChannel,
    EmailContent,
    Status,
)
from crm_marketing.domain.profile import ContactDetails
from crm_platform.liveness import Registry
from crm_platform.quarantine import Quarantine
from crm_platform.testing import eventually_async

from ..feed import command

pytestmark = pytest.mark.integration

CONTENT = EmailContent("Hi", "<p>Hi</p>", "Hi", {}, ())


def draft(app: MarketingApplication, automation: Automation | None = None) -> UUID:
    campaign_id = uuid4()
    segment = app.define_segment(command(), uuid4(), name="List", rule=None).value
    app.draft_campaign(
        command(),
        campaign_id,
        name="IT",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[] if automation else [segment.id],
        content=CONTENT,
        agents=[],
        automation=automation,
    )
    return campaign_id


def scheduled(app: MarketingApplication, launch_at: datetime) -> UUID:
    campaign_id = draft(app)
    app.schedule_campaign(command(), campaign_id, launch_at)
    return campaign_id


@pytest.fixture
def quarantine(application: MarketingApplication) -> Quarantine:
    opened = Quarantine.of(application, service="marketing")
    opened.create_table()  # as the loops' setup does
    return opened


def failing_for(application: Any, method: str, poison: UUID, monkeypatch: Any) -> Any:
    """Make ``method`` raise for ``poison`` (a bug its data meets); the original, to restore."""
    original = getattr(application, method)

    def failing(record_id: UUID, *args: Any) -> Any:
        if record_id == poison:
            raise ValueError(f"a bug met by {record_id}")
        return original(record_id, *args)

    monkeypatch.setattr(application, method, failing)
    return original


async def test_a_campaign_that_fails_to_launch_is_held_and_the_others_launch(
    application, quarantine, monkeypatch
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    poison, other = scheduled(application, soon), scheduled(application, soon)
    original = failing_for(application, "launch_scheduled", poison, monkeypatch)
    await asyncio.sleep(1.1)
    stop, registry = asyncio.Event(), Registry()
    [launches, *_] = scheduler_loops(application)
    loop = asyncio.create_task(launches.run(stop, registry=registry))
    await eventually_async(
        lambda: application.campaign(other).status != Status.SCHEDULED, what="the other launched"
    )
    report = registry.reports()[f"loop:{LAUNCHES}"]
    stop.set()
    await asyncio.wait_for(loop, timeout=10)

    assert application.campaign(other).status == Status.COMPLETED  # launched: nobody to reach
    assert report.alive and report.state == "running"
    [entry] = quarantine.list(loop=LAUNCHES).items
    assert (entry.record_key, entry.state) == (str(poison), "held")
    assert await launch_due(application, quarantine) == 0  # held: skipped, not tried again
    assert quarantine.get(entry.id).attempts == 1  # type: ignore[union-attr]
    assert application.campaign(poison).status == Status.SCHEDULED

    monkeypatch.setattr(application, "launch_scheduled", original)  # the fix is deployed
    quarantine.release(entry.id)
    assert await launch_due(application, quarantine) == 1
    assert application.campaign(poison).status == Status.COMPLETED
    assert quarantine.get(entry.id).state == "resolved"  # type: ignore[union-attr]


def born_today(app: MarketingApplication) -> UUID:
    profile = AudienceProfile(id=uuid4())
    today = datetime.now(UTC).strftime("%m-%d")
    profile.learn_details(ContactDetails(email="b@example.org", birthday=today), datetime.now(UTC))
    profile.decide_consent("email", "marketing", True, datetime.now(UTC))
    app.save(profile)
    return profile.id


def greetings_of(app: MarketingApplication) -> set[UUID]:
    sends = (app.load("send", AutomatedSend, s) for s in app.aggregate_ids(AutomatedSend.Scheduled))  # type: ignore[attr-defined]
    return {send.customer_id for send in sends}


async def test_a_birthday_greeting_that_fails_is_held_and_the_others_are_greeted(
    application, quarantine, monkeypatch
) -> None:
    campaign_id = draft(application, Automation("Birthday", timedelta(hours=8)))
    application.launch_campaign(command(), campaign_id)
    poison, other = born_today(application), born_today(application)
    original = failing_for(application, "celebrate", poison, monkeypatch)
    greetings = AnnualDates(application, quarantine)

    assert await greetings.step() == 1
    assert greetings_of(application) == {other}
    [entry] = quarantine.list(loop=ANNUAL_DATES).items
    assert (entry.record_key, entry.state) == (str(poison), "held")
    assert await greetings.step() == 0  # evaluated again: the other is greeted once a day

    monkeypatch.setattr(application, "celebrate", original)
    quarantine.release(entry.id)
    assert await greetings.step() == 1  # the released person, on the next round
    assert greetings_of(application) == {poison, other}
    assert quarantine.get(entry.id).state == "resolved"  # type: ignore[union-attr]
    assert await AnnualDates(application, quarantine).step() == 0  # a restart: no twice
    assert len(greetings_of(application)) == 2


async def test_a_campaign_launched_later_in_the_day_still_greets_today_once(
    application, postgres, quarantine
) -> None:
    person = born_today(application)
    greetings = AnnualDates(application, quarantine)
    assert await greetings.step() == 0  # the day's first round: no birthday campaign yet

    campaign_id = draft(application, Automation("Birthday", timedelta(0)))
    application.launch_campaign(command(), campaign_id)  # launched in the afternoon
    # Two workers, each with its own application on the same database, race for the day.
    second = build_application(postgres)
    try:
        rounds = await asyncio.gather(
            greetings.step(), AnnualDates(second, quarantine).step(), greetings.step()
        )
    finally:
        second.close()
    assert sum(rounds) == 1
    assert greetings_of(application) == {person}
