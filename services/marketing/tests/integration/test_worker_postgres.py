"""The marketing worker's loops together on the real servers: a profile the audience index
cannot hold and a message that cannot be sent are each quarantined by the loop that met them,
and every loop keeps running and stays ready."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_marketing.application import MarketingApplication
from crm_marketing.application.audience_index import PROJECTION
from crm_marketing.application.mailer import MAILER
from crm_marketing.bootstrap import background
from crm_marketing.domain import AudienceProfile, message_id
from crm_marketing.domain.profile import ContactDetails
from crm_platform.liveness import Registry
from crm_platform.quarantine import Quarantine
from crm_platform.testing import eventually_async

from .. import feed

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def consenting(app: MarketingApplication, email: str, region: str = "EMEA") -> UUID:
    """Saved straight through the aggregate: the consumers would refuse either poison."""
    profile = AudienceProfile(id=uuid4())
    profile.learn_details(ContactDetails(email=email, region=region), registered_at=NOW)
    profile.decide_consent("email", "marketing", True, NOW)
    app.save(profile)
    return profile.id


def launch_to(app: MarketingApplication, *customers: UUID) -> UUID:
    return feed.launch_to(app, *customers, now=NOW)


async def test_every_loop_goes_on_past_the_records_it_quarantines(
    application: MarketingApplication, smtp_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in smtp_sink.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRM_MARKETING_TRACKING_SECRET", "w" * 40)
    unindexable = f"nul-{uuid4().hex[:10]}@example.org"
    good = f"good-{uuid4().hex[:10]}@example.org"
    nul = consenting(application, unindexable, region="EM\x00EA")
    unsendable = consenting(application, "line\nbreak@example.org")
    customer = consenting(application, good)
    campaign_id = launch_to(application, nul, unsendable, customer)
    quarantine = Quarantine.of(application, service="marketing")

    stop, registry = asyncio.Event(), Registry()
    loops = background(application)
    tasks = [asyncio.create_task(loop.run(stop, registry=registry)) for loop in loops]
    await eventually_async(lambda: smtp_sink.messages_to(good), what="the good message")
    await eventually_async(lambda: quarantine.keys(MAILER), what="the unsendable held")
    await eventually_async(
        lambda: all(r.state == "running" for r in registry.reports().values()),
        what="every loop running",
    )
    reports = registry.reports()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)

    assert {name.removeprefix("loop:") for name in reports} == {loop.name for loop in loops}
    assert all(report.alive and report.ready for report in reports.values())
    # Every state of that profile holding the NUL was set aside: the index knew it only as
    # first registered, without consent, so the launch left it out.
    assert {e.aggregate_id for e in quarantine.list(loop=PROJECTION).items} == {str(nul)}
    assert smtp_sink.messages_to(unindexable) == []
    assert quarantine.keys(MAILER) == [str(message_id(campaign_id, unsendable))]
