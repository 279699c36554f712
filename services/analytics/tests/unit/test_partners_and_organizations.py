"""Partner figures against hand-computed values, and the organization documents folded from
contacts' organization topic (PartnerRegistered rides at its carrier's aggregate version)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_analytics.domain.metrics_partners import PartnerFigures, partner_figures
from crm_analytics.read_models.organization_360 import ORGANIZATIONS, PARTNERS, update_for
from crm_events import Event, EventData, build_event
from crm_events.contacts.organization import (
    OrganizationKind,
    OrganizationProfileUpdated,
    OrganizationRegistered,
    PartnerRegistered,
    PartnerType,
)
from crm_events.sales.opportunities import (
    OpportunityOpened,
    OpportunityPartnerRegistered,
    OpportunityWon,
    PartnerAttribution,
)
from crm_platform.read_models import fold

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RESELLER, DISTRIBUTOR = str(uuid4()), str(uuid4())


def deal(partner: str | None, status: str, amount: str, probability: int = 50, **more: Any):
    return {
        "_id": str(uuid4()),
        "partner_id": partner,
        "attribution": "sourced",
        "status": status,
        "amount": amount,
        "currency": "EUR",
        "probability": probability,
        **more,
    }


def test_partner_pipeline_and_won_revenue_match_hand_computed_values() -> None:
    deals = [
        deal(RESELLER, "open", "1000.00", 20),  # weighted 200
        deal(RESELLER, "open", "3000.00", 50),  # weighted 1500
        deal(RESELLER, "won", "2500.00", 100),
        deal(RESELLER, "lost", "9999.00", 0),  # counts nowhere
        deal(RESELLER, "won", "700.00", 100, currency="USD"),
        deal(RESELLER, "open", "400.00", 25, attribution="influenced"),  # weighted 100
        deal(DISTRIBUTOR, "won", "10000.00", 100),
        deal(None, "won", "5000.00"),  # no partner
    ]

    figures = {(f.partner_id, f.attribution, f.currency): f for f in partner_figures(deals)}

    assert figures == {
        (RESELLER, "sourced", "EUR"): PartnerFigures(
            RESELLER, "sourced", "EUR", 2, Decimal("4000"), Decimal("1700"), 1, Decimal("2500")
        ),
        (RESELLER, "sourced", "USD"): PartnerFigures(
            RESELLER, "sourced", "USD", 0, Decimal(0), Decimal(0), 1, Decimal("700")
        ),
        (RESELLER, "influenced", "EUR"): PartnerFigures(
            RESELLER, "influenced", "EUR", 1, Decimal("400"), Decimal("100"), 0, Decimal(0)
        ),
        (DISTRIBUTOR, "sourced", "EUR"): PartnerFigures(
            DISTRIBUTOR, "sourced", "EUR", 0, Decimal(0), Decimal(0), 1, Decimal("10000")
        ),
    }


def event(data: EventData, aggregate_id: UUID, version: int) -> Event[Any]:
    return build_event(data, aggregate_id=aggregate_id, aggregate_version=version, time=T0)


def folded(events: list[Event[Any]], collection: str) -> dict[str, Any] | None:
    document = None
    for one in events:
        change = update_for(one)
        assert change is not None
        if change[0] == collection:
            document = fold(document, change[1])
    return document


def test_an_organization_is_known_from_its_registration_and_partner_registered_is_kept() -> None:
    org, parent = uuid4(), uuid4()
    registered = OrganizationRegistered(
        organization_id=org,
        name="Fjord Resellers AS",
        kinds=[OrganizationKind.CUSTOMER, OrganizationKind.PARTNER],
        partner_type=PartnerType.RESELLER,
        registered_at=T0,
    )
    partner = PartnerRegistered(
        organization_id=org, partner_type=PartnerType.RESELLER, registered_at=T0
    )
    moved = OrganizationProfileUpdated(
        organization_id=org, changed=["parent_id", "industry"], parent_id=parent, updated_at=T0
    )
    # PartnerRegistered rides at version 1 with the registration, as the contacts relay sends it.
    stream = [event(registered, org, 1), event(partner, org, 1), event(moved, org, 2)]
    redelivered = [*stream, event(registered, org, 1)]

    details = folded(redelivered, ORGANIZATIONS)
    partnership = folded(redelivered, PARTNERS)

    assert details is not None and partnership is not None
    assert (details["name"], details["kinds"], details["parent_id"], details["industry"]) == (
        "Fjord Resellers AS",
        ["customer", "partner"],
        str(parent),
        None,  # named as changed and null: cleared
    )
    assert (partnership["partner_type"], partnership["version"]) == ("reseller", 1)


def test_a_partner_registered_on_a_deal_and_its_win_are_on_its_document() -> None:
    opportunity = uuid4()
    opened = OpportunityOpened(
        opportunity_id=opportunity,
        name="Fjord: 20 seats",
        pipeline_id=uuid4(),
        stage_id="prospecting",
        stage_name="Prospecting",
        probability=10,
        amount=Decimal("800"),
        currency="EUR",
        expected_close_date=date(2026, 6, 30),
        owner="bob",
        opened_at=T0,
    )
    registered = OpportunityPartnerRegistered(
        opportunity_id=opportunity,
        partner_id=UUID(RESELLER),
        attribution=PartnerAttribution.INFLUENCED,
        registered_by="bob",
        registered_at=T0,
    )
    won = OpportunityWon(
        opportunity_id=opportunity,
        pipeline_id=opened.pipeline_id,
        from_stage_id="prospecting",
        stage_id="won",
        amount=Decimal("900"),
        currency="EUR",
        owner="bob",
        won_by="bob",
        won_at=T0,
    )
    events = [event(opened, opportunity, 1), event(registered, opportunity, 2)]
    document = folded([*events, event(won, opportunity, 3)], "opportunities")

    assert document is not None
    assert partner_figures([document]) == [
        PartnerFigures(RESELLER, "influenced", "EUR", 0, Decimal(0), Decimal(0), 1, Decimal(900))
    ]
