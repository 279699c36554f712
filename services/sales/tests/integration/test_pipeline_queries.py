"""Pipeline reactions and queries of the sales application on PostgreSQL: what finds its records
in the pipeline index (rescoring, pipeline revisions, erasure, risk flags, campaign responses,
lists and the forecast). Each test has an empty database of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from crm_sales.application import SalesApplication
from crm_sales.pipeline.application.commands import (
    LeadDetails,
    LeadFilter,
    OpportunityDraft,
    OpportunityFilter,
)
from crm_sales.pipeline.domain.forecast import PeriodKind
from crm_sales.pipeline.domain.leads import LeadSource, LeadStatus
from crm_sales.pipeline.domain.pipelines import DEFAULT_PIPELINE_ID, Stage, StageKind
from crm_sales.pipeline.domain.scoring import CampaignResponse, Interaction, rule
from crm_sales.shared.domain.errors import RuleViolation, VersionConflict

from ..unit.test_pipeline_application import ACCOUNT, DEAL, capture, command, converted

pytestmark = pytest.mark.integration

CUSTOMER = UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10")


@pytest.fixture
def app(empty_app: SalesApplication) -> SalesApplication:
    return empty_app


def position(offset: int) -> Tracking:
    return Tracking(application_name="sales.test|topic|0", notification_id=offset)


# --- scoring --------------------------------------------------------------------------------------


def test_publishing_rules_rescores_the_open_leads_only(app: SalesApplication) -> None:
    open_lead = capture(app)
    done = converted(app)
    rules = [
        rule(
            0,
            rule_id="engineers",
            kind="attribute_contains",
            points=40,
            explanation="Engineering",
            attribute="title",
            values=["engineering"],
        )
    ]

    published = app.publish_scoring_rules(command("admin", version=1), rules)

    assert published.value.rule_set.revision == 2
    rescored = app.get_lead(open_lead.id)
    assert (rescored.score_points, rescored.rule_set_revision) == (40, 2)
    assert app.get_lead(done.id).rule_set_revision == 1
    assert app.scoring_rules(revision=1).rule_set.revision == 1
    with pytest.raises(VersionConflict):
        app.publish_scoring_rules(command("admin", version=1), rules[:0])


# --- pipelines ------------------------------------------------------------------------------------


def test_custom_pipelines_and_their_revisions(app: SalesApplication) -> None:
    stages = [
        Stage("demo", "Demo", 30),
        Stage("trial", "Trial", 60),
        Stage("won", "Won", 100, StageKind.WON),
        Stage("lost", "Lost", 0, StageKind.LOST),
    ]
    pipeline = app.define_pipeline(command("admin"), name="Partners", stages=stages).value
    app.open_opportunity(
        command(),
        OpportunityDraft(**{**vars(DEAL), "pipeline_id": pipeline.id, "stage_id": "trial"}),
    )

    with pytest.raises(RuleViolation) as refused:
        app.revise_pipeline(
            command("admin"), pipeline.id, name="Partners", stages=[stages[0], *stages[2:]]
        )
    revised = app.revise_pipeline(
        command("admin"), DEFAULT_PIPELINE_ID, name="Direct", stages=stages
    ).value

    assert "trial" in refused.value.detail
    assert (revised.name, revised.version) == ("Direct", 2)
    assert [p.name for p in app.list_pipelines()] == ["Direct", "Partners"]


# --- erasure --------------------------------------------------------------------------------------


def test_forgetting_a_customer_erases_its_leads_everywhere(app: SalesApplication) -> None:
    lead = converted(app)
    customer_id = lead.conversion.customer_id
    matched = capture(app, LeadDetails(family_name="Lovelace", customer_id=customer_id))
    other = capture(app, LeadDetails(family_name="Hopper", email="grace@example.com"))

    erased = app.forget_customer(customer_id)

    assert sorted(erased) == sorted([lead.id, matched.id])
    assert app.forget_customer(customer_id) == []
    for lead_id in erased:
        forgotten = app.get_lead(lead_id)
        assert (forgotten.name, forgotten.email, forgotten.company) == (None, None, None)
        assert app.personal_data_keys.is_destroyed(lead_id)
    assert app.get_lead(other.id).family_name == "Hopper"
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=1000))
    assert b"Lovelace" not in stored and b"Hopper" not in stored  # sealed, never plain
    summaries = app.list_leads(LeadFilter(customer_id=customer_id))
    assert {(s.family_name, s.company) for s in summaries} == {(None, None)}


# --- reactions ------------------------------------------------------------------------------------


def test_risk_flags_reach_the_open_opportunities_of_the_account_once(app: SalesApplication) -> None:
    draft = OpportunityDraft(**{**vars(DEAL), "account_id": ACCOUNT})
    open_one = app.open_opportunity(command(), draft).value
    won = app.open_opportunity(command(), draft).value
    app.win_opportunity(command(), won.id, reason=None, amount=None)
    app.open_opportunity(command(), DEAL)  # another account's
    escalation = uuid4()

    flagged = app.flag_opportunities_at_risk(
        ACCOUNT, reason="ticket escalated", source_event_id=escalation, position=position(7)
    )
    again = app.flag_opportunities_at_risk(
        ACCOUNT, reason="ticket escalated", source_event_id=escalation
    )

    assert flagged == again == [open_one.id]
    assert app.get_opportunity(open_one.id).version == 2
    assert app.processed(position(7))
    at_risk = app.list_opportunities(OpportunityFilter(at_risk=True))
    assert [e.opportunity_id for e in at_risk] == [open_one.id]
    cleared = app.unflag_opportunities_at_risk(ACCOUNT, reason="resolved", source_event_id=uuid4())
    assert cleared == [open_one.id] and not app.get_opportunity(open_one.id).at_risk


def test_a_campaign_response_becomes_a_lead_once(app: SalesApplication) -> None:
    response = CampaignResponse(uuid4(), uuid4(), "form_submission", datetime.now(UTC))
    details = LeadDetails(
        family_name="Hopper", email="grace@example.com", campaign_id=response.campaign_id
    )

    first = app.note_campaign_response(response, customer_id=None, details=details)
    again = app.note_campaign_response(response, customer_id=None, details=details)

    (lead_id,) = first
    assert again == first
    lead = app.get_lead(lead_id)
    assert (lead.source, lead.response_id, lead.campaign_id) == (
        LeadSource.CAMPAIGN,
        response.response_id,
        response.campaign_id,
    )
    assert [r.rule_id for r in lead.reasons] == ["campaign", "has-email", "campaign-response"]
    assert len(app.list_leads(LeadFilter())) == 1


def test_a_known_customers_response_and_interactions_score_its_open_leads(
    app: SalesApplication,
) -> None:
    lead = capture(app, LeadDetails(family_name="Lovelace", customer_id=CUSTOMER))
    frozen = converted(app, customer_id=CUSTOMER)
    response = CampaignResponse(uuid4(), uuid4(), "reply", datetime.now(UTC))
    call = Interaction(uuid4(), "phone", "inbound", datetime.now(UTC))

    assert app.note_campaign_response(response, customer_id=CUSTOMER, details=None) == [lead.id]
    assert app.note_customer_interaction(CUSTOMER, call, position=position(3)) == [lead.id]
    assert app.note_customer_interaction(CUSTOMER, call) == [lead.id]

    scored = app.get_lead(lead.id)
    assert [r.rule_id for r in scored.reasons] == ["inbound-contact", "campaign-response"]
    assert scored.score_points == 15
    assert app.get_lead(frozen.id).version == frozen.version
    assert len(app.list_leads(LeadFilter())) == 2


def test_a_response_without_contact_details_captures_nothing(app: SalesApplication) -> None:
    response = CampaignResponse(uuid4(), uuid4(), "offer_click", datetime.now(UTC))
    assert app.note_campaign_response(response, customer_id=None, details=None) == []
    assert app.recorder.max_notification_id() in (None, 0)


# --- queries --------------------------------------------------------------------------------------


def test_lists_filter_newest_first(app: SalesApplication) -> None:
    leads = [
        capture(app, LeadDetails(family_name=f"Lead {i}", phone=f"+4930123456{i}"))
        for i in range(5)
    ]
    app.qualify_lead(command(), leads[1].id)

    listed = app.list_leads(LeadFilter())
    qualified = app.list_leads(LeadFilter(status=LeadStatus.QUALIFIED))

    assert [e.family_name for e in listed] == [f"Lead {i}" for i in (4, 3, 2, 1, 0)]
    assert [e.position for e in listed] == sorted((e.position for e in listed), reverse=True)
    assert [e.lead_id for e in qualified] == [leads[1].id]


def test_the_forecast_weights_open_opportunities_and_counts_won_ones(app: SalesApplication) -> None:
    open_one = app.open_opportunity(command("bob"), DEAL).value
    app.move_opportunity(command("bob"), open_one.id, stage_id="proposal", probability=None)
    won = app.open_opportunity(command("carol"), DEAL).value
    app.win_opportunity(command("carol"), won.id, reason=None, amount=Decimal("50000"))

    lines = app.forecast(period=PeriodKind.QUARTER)
    bobs = app.forecast(period=PeriodKind.QUARTER, owner="bob")

    by_owner = {line.owner: line for line in lines}
    assert by_owner["bob"].period.label == "2025-Q2"
    assert by_owner["bob"].weighted_amount == Decimal("36000")
    assert (by_owner["carol"].won_amount, by_owner["carol"].open_count) == (Decimal("50000"), 0)
    assert [line.owner for line in bobs] == ["bob"]
