"""Stored pipeline events as the relay publishes them: sealed personal data, public contracts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_events.personal import PersonalDataKeyDestroyed, Sealed, unseal
from crm_events.sales.leads import (
    LeadCaptured,
    LeadConverted,
    LeadDisqualified,
    LeadErased,
    LeadQualified,
    LeadScored,
    LeadUpdated,
)
from crm_events.sales.opportunities import (
    OpportunityFlaggedAtRisk,
    OpportunityLost,
    OpportunityOpened,
    OpportunityRiskCleared,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
)
from crm_sales.application import SalesApplication
from crm_sales.contracts import translate
from crm_sales.pipeline.application.commands import Command, LeadDetails, OpportunityDraft

pytestmark = pytest.mark.unit

DEAL = OpportunityDraft(
    name="Deal",
    amount=Decimal("100.50"),
    currency="EUR",
    expected_close_date=date(2025, 6, 30),
    account_id=uuid4(),
)


@pytest.fixture
def app() -> Iterator[SalesApplication]:
    application = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def command() -> Command:
    return Command(uuid4(), "f", "bob")


def published(app: SalesApplication) -> list[Any]:
    """What the relay would publish: events decoded without opening personal data."""
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    translated = [translate(*app.mapper.decode_with_metadata(n)) for n in notifications]
    return [event.data for events in translated if events for event in events]


def test_lead_events_carry_their_personal_data_sealed_with_the_leads_key(
    app: SalesApplication,
) -> None:
    details = LeadDetails(
        family_name="Lovelace",
        given_name="Ada",
        email="ada@example.org",
        company="Analytical Engines",
        country="GB",
    )
    lead = app.capture_lead(command(), details).value
    app.update_lead(command(), lead.id, {"phone": "+442071234567"})
    app.disqualify_lead(command(), lead.id, reason="bad_timing", note="Call back in Q3")
    app.qualify_lead(command(), lead.id)
    app.convert_lead(command(), lead.id, DEAL)

    events = published(app)

    assert [type(e) for e in events] == [
        LeadCaptured,
        LeadScored,
        LeadUpdated,
        LeadScored,
        LeadDisqualified,
        LeadQualified,
        LeadConverted,
        OpportunityOpened,
    ]
    captured, converted = events[0], events[6]
    key = app.personal_data_keys.key(lead.id)
    assert isinstance(captured.name, Sealed) and captured.name.kid == lead.id
    assert unseal(captured.name, key) == {"given_name": "Ada", "family_name": "Lovelace"}
    assert unseal(captured.email, key) == "ada@example.org"
    assert (captured.country, captured.phone) == ("GB", None)
    assert unseal(events[4].note, key) == "Call back in Q3"
    assert unseal(converted.phone, key) == "+442071234567"
    assert (converted.opportunity_id, converted.new_customer) == (events[7].opportunity_id, True)
    assert events[7].amount == Decimal("100.50")
    assert "Lovelace" not in "".join(e.model_dump_json() for e in events)


def test_an_erased_lead_announces_its_key_destroyed_then_its_erasure(
    app: SalesApplication,
) -> None:
    lead = app.capture_lead(command(), LeadDetails(family_name="Hopper", phone="+15551234567"))
    erased_lead = app.get_lead(lead.value.id)  # as the application erases it (on PostgreSQL)
    app.personal_data_keys.destroy(erased_lead.id)
    erased_lead.erase()
    app.save(erased_lead)

    *_, destroyed, erased = published(app)

    assert isinstance(destroyed, PersonalDataKeyDestroyed) and isinstance(erased, LeadErased)
    assert destroyed.subject_id == erased.lead_id == lead.value.id


def test_opportunity_events(app: SalesApplication) -> None:
    first = app.open_opportunity(command(), DEAL).value
    app.update_opportunity(command(), first.id, {"amount": Decimal("120")})
    app.move_opportunity(command(), first.id, stage_id="negotiation", probability=75)
    at_risk = app.get_opportunity(first.id)  # as an escalation on its account flags it
    at_risk.flag_at_risk(reason="escalated", source_event_id=uuid4())
    app.save(at_risk)
    app.clear_opportunity_risks(command(), first.id, reason="resolved")
    app.win_opportunity(command(), first.id, reason="fit", amount=None)
    second = app.open_opportunity(command(), DEAL).value
    app.lose_opportunity(command(), second.id, reason="price", competitor="Initech")

    events = published(app)

    assert [type(e) for e in events] == [
        OpportunityOpened,
        OpportunityUpdated,
        OpportunityStageChanged,
        OpportunityFlaggedAtRisk,
        OpportunityRiskCleared,
        OpportunityWon,
        OpportunityOpened,
        OpportunityLost,
    ]
    moved, won, lost = events[2], events[5], events[7]
    naming = [e for e in events if "organization_id" in type(e).model_fields]
    assert len(naming) == 6  # opened twice, updated, flagged, cleared, won: all but move, loss
    assert {(e.organization_id, e.account_id) for e in naming} == {(DEAL.account_id,) * 2}
    assert (moved.from_stage_id, moved.to_stage_id, moved.probability, moved.amount) == (
        "prospecting",
        "negotiation",
        75,
        Decimal("120"),
    )
    assert (won.stage_id, won.from_stage_id, won.amount, won.won_by) == (
        "won",
        "negotiation",
        Decimal("120"),
        "bob",
    )
    assert (lost.reason, lost.competitor, lost.stage_id) == ("price", "Initech", "lost")
