"""Pipeline commands of the sales application, on the in-memory store (what needs the pipeline
index, reactions and queries, is tested on PostgreSQL: integration/test_pipeline_queries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_sales.application import SalesApplication
from crm_sales.pipeline.application.commands import (
    Command,
    LeadDetails,
    OpportunityDraft,
)
from crm_sales.pipeline.domain.leads import Lead, LeadStatus
from crm_sales.pipeline.domain.pipelines import DEFAULT_PIPELINE_ID
from crm_sales.shared.domain.errors import (
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    VersionConflict,
)

pytestmark = pytest.mark.unit

ACCOUNT = UUID("5a7c9e1b-3d5f-4a6c-8e0b-2d4f6a8c0e12")
ADA = LeadDetails(
    family_name="Lovelace",
    given_name="Ada",
    email="ada@example.org",
    title="Head of Engineering",
    company="Analytical Engines",
)
DEAL = OpportunityDraft(
    name="Analytical Engines: 50 seats",
    amount=Decimal("60000"),
    currency="EUR",
    expected_close_date=date(2025, 6, 30),
)


@pytest.fixture
def app() -> Iterator[SalesApplication]:
    application = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def command(actor: str = "bob", *, fingerprint: str = "f", version: int | None = None) -> Command:
    return Command(uuid4(), fingerprint, actor, version)


def capture(app: SalesApplication, details: LeadDetails = ADA, **options: Any) -> Lead:
    return app.capture_lead(command(), details, **options).value


def converted(app: SalesApplication, **options: Any) -> Lead:
    lead = capture(app)
    return app.convert_lead(command(), lead.id, DEAL, **options).value


def topics(app: SalesApplication, start: int = 1) -> list[str]:
    notifications = app.recorder.select_notifications(start=start, limit=1000)
    return [n.topic.rpartition(":")[2] for n in notifications]


# --- idempotency and preconditions ---------------------------------------------------------------


def test_a_retried_capture_replays_and_a_reused_key_is_refused(app: SalesApplication) -> None:
    first = command()
    captured = app.capture_lead(first, ADA)
    lead_id = captured.value.id
    app.qualify_lead(command(), lead_id)

    retried = app.capture_lead(first, ADA)

    assert (captured.replayed, retried.replayed) == (False, True)
    assert (retried.value.id, retried.value.version, retried.value.status) == (
        lead_id,
        captured.value.version,
        LeadStatus.NEW,
    )
    with pytest.raises(IdempotencyKeyReused):
        app.capture_lead(Command(first.command_id, "another body", "bob"), ADA)
    assert topics(app) == [
        "Lead.Captured",
        "Lead.Scored",
        "CommandReceipt.Issued",
        "Lead.Qualified",
        "CommandReceipt.Issued",
    ]


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(app: SalesApplication) -> None:
    lead = capture(app)
    before = topics(app)

    with pytest.raises(VersionConflict) as conflict:
        app.qualify_lead(command(version=1), lead.id)

    assert (conflict.value.expected, conflict.value.actual) == (1, lead.version)
    assert topics(app) == before
    assert app.qualify_lead(command(version=lead.version), lead.id).value.status == "qualified"


def test_unknown_ids_are_not_found_whatever_else_they_name(app: SalesApplication) -> None:
    lead = capture(app)
    for act in (
        lambda: app.get_lead(uuid4()),
        lambda: app.qualify_lead(command(), uuid4()),
        lambda: app.get_opportunity(lead.id),  # a lead is no opportunity
        lambda: app.get_pipeline(uuid4()),
        lambda: app.erase_lead(uuid4()),
        lambda: app.scoring_rules(revision=2),
    ):
        with pytest.raises(RecordNotFound):
            act()


# --- conversion ----------------------------------------------------------------------------------


def test_conversion_opens_the_opportunity_in_the_same_transaction(app: SalesApplication) -> None:
    lead = capture(app)
    start = app.recorder.max_notification_id() + 1
    key = command()

    outcome = app.convert_lead(key, lead.id, DEAL, organization_id=ACCOUNT)
    replay = app.convert_lead(key, lead.id, DEAL, organization_id=ACCOUNT)

    conversion = outcome.value.conversion
    assert replay.replayed and replay.value.conversion == conversion
    assert topics(app, start) == [
        "Lead.Converted",
        "Opportunity.Opened",
        "Pipeline.Defined",
        "CommandReceipt.Issued",
    ]
    opportunity = app.get_opportunity(conversion.opportunity_id)
    assert (opportunity.lead_id, opportunity.contact_id, opportunity.account_id) == (
        lead.id,
        conversion.customer_id,
        ACCOUNT,
    )
    assert (opportunity.owner, opportunity.pipeline_id) == ("bob", DEFAULT_PIPELINE_ID)


def test_a_refused_conversion_leaves_lead_and_store_untouched(app: SalesApplication) -> None:
    lead = capture(app)
    app.disqualify_lead(command(), lead.id, reason="no_need", note=None)
    fresh = capture(app)
    before = topics(app)

    with pytest.raises(InvalidState):
        app.convert_lead(command(), lead.id, DEAL)
    with pytest.raises(RuleViolation) as refused:
        app.convert_lead(
            command(), fresh.id, OpportunityDraft(**{**vars(DEAL), "currency": "EURO"})
        )

    assert refused.value.field == "currency"
    assert topics(app) == before
    assert app.get_lead(fresh.id).status is LeadStatus.NEW


def test_a_converted_lead_refuses_every_command(app: SalesApplication) -> None:
    lead = converted(app)
    for act in (
        lambda: app.qualify_lead(command(), lead.id),
        lambda: app.update_lead(command(), lead.id, {"company": "Elsewhere"}),
        lambda: app.convert_lead(command(), lead.id, DEAL),
    ):
        with pytest.raises(InvalidState):
            act()
