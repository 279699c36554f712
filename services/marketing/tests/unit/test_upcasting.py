"""Events stored before the command pipeline kept receipts apart (version 1) carried the request's
fingerprint and the command's id: they are read back as today's events, without them."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from crm_marketing.application import MarketingApplication
from crm_marketing.domain import (
    AutomationDirectory,
    Campaign,
    CampaignResponse,
    LaunchCalendar,
    Respondent,
    ResponseKind,
    Segment,
    SegmentDirectory,
)
from crm_platform.commands import CommandReceipt

from ..feed import command
from .test_automation import automated

pytestmark = pytest.mark.unit


def as_version_1(app: MarketingApplication, record_id: UUID) -> UUID:
    """A copy of the record's events as version 1 stored them, under a new id."""
    copy_id, old = uuid4(), []
    for stored in app.recorder.select_events(record_id):
        state: dict[str, Any] = app.mapper.transcoder.decode(stored.state)
        assert state.pop("class_version") == 2
        state.update(request_fingerprint="f", command_id=uuid4())
        encoded = app.mapper.transcoder.encode(state)
        old.append(StoredEvent(copy_id, stored.originator_version, stored.topic, encoded))
    app.recorder.insert_events(old)
    return copy_id


def test_version_1_events_are_read_without_their_request_ids(application, feed) -> None:
    customer = feed.register()
    campaign_id = automated(application)  # drafted and launched: no audience to read
    response = application.record_response(
        command(), uuid4(), campaign_id, ResponseKind.REPLY, Respondent(customer_id=customer), {}
    ).value
    application.cancel_campaign(command(), campaign_id, "enough")
    segment = application.define_segment(command(), uuid4(), name="Old", rule=None).value

    for record, cls in (
        (campaign_id, Campaign),
        (segment.id, Segment),
        (response.id, CampaignResponse),
    ):
        old = application.repository.get(as_version_1(application, record))
        new = application.repository.get(record)
        assert isinstance(old, cls) and old.version == new.version
        assert {k: v for k, v in vars(old).items() if k != "_id"} == {
            k: v for k, v in vars(new).items() if k != "_id"
        }
        assert not {"request_fingerprint", "commands"} & vars(old).keys()


def test_a_create_retried_across_the_upgrade_is_answered_as_a_replay(application) -> None:
    """A segment made before receipts were kept: the same key finds it (its id comes from the
    key) and, with no receipt to compare, is answered with it."""
    segment = application.define_segment(command(), uuid4(), name="Before", rule=None).value
    old_id = as_version_1(application, segment.id)
    retry = command()

    again = application.define_segment(retry, old_id, name="Before", rule=None)

    assert again.replayed and again.value.id == old_id and again.value.version == 1
    assert application.find(CommandReceipt, retry.command_id) is None  # nothing was saved


def test_the_registers_events_keep_the_topics_they_were_stored_under() -> None:
    events = [
        LaunchCalendar.Opened,  # type: ignore[attr-defined]
        LaunchCalendar.Added,  # type: ignore[attr-defined]
        LaunchCalendar.Removed,  # type: ignore[attr-defined]
        AutomationDirectory.Opened,  # type: ignore[attr-defined]
        AutomationDirectory.Started,  # type: ignore[attr-defined]
        AutomationDirectory.Stopped,  # type: ignore[attr-defined]
        SegmentDirectory.Opened,  # type: ignore[attr-defined]
    ]

    assert [get_topic(e) for e in events] == [
        "crm_marketing.domain.campaign:LaunchCalendar.Opened",
        "crm_marketing.domain.campaign:LaunchCalendar.Added",
        "crm_marketing.domain.campaign:LaunchCalendar.Removed",
        "crm_marketing.domain.automation:AutomationDirectory.Opened",
        "crm_marketing.domain.automation:AutomationDirectory.Started",
        "crm_marketing.domain.automation:AutomationDirectory.Stopped",
        "crm_marketing.domain.segment:SegmentDirectory.Opened",
    ]
