"""Partners on leads and opportunities (deal registration, channel attribution), on the
in-memory store: the API, the inheritance on conversion, refusals and the published events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_events.sales.leads import LeadPartnerRegistered
from crm_events.sales.opportunities import OpportunityPartnerRegistered, PartnerAttribution
from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from .test_pipeline_api import ADA, DEAL, READ, lead, opportunity, post, stored
from .test_pipeline_contracts import published

pytestmark = pytest.mark.unit

RESELLER = str(uuid4())
DISTRIBUTOR = str(uuid4())


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def register(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    return post(client, f"{path}/partner", body)


def test_a_partner_registered_on_a_lead_is_shown_and_inherited_by_its_opportunity(
    client: TestClient, application: SalesApplication
) -> None:
    captured = lead(client, ADA)
    registered = register(client, f"/leads/{captured['id']}", {"partner_id": RESELLER})
    again = register(client, f"/leads/{captured['id']}", {"partner_id": RESELLER})
    converted = post(client, f"/leads/{captured['id']}/convert", DEAL)

    partner = registered.json()["partner"]
    assert registered.status_code == 200, registered.text
    assert (partner["partner_id"], partner["attribution"], partner["registered_by"]) == (
        RESELLER,
        "sourced",
        "bob@example.com",
    )
    assert again.json()["version"] == registered.json()["version"]  # nothing new to record
    deal = client.get(converted.headers["Location"], headers=READ).json()
    assert (deal["partner_id"], deal["partner"]["attribution"]) == (RESELLER, "sourced")
    events = [e for e in published(application) if "Partner" in type(e).__name__]
    assert [type(e) for e in events] == [LeadPartnerRegistered, OpportunityPartnerRegistered]
    assert events[1].partner_id == events[0].partner_id and events[1].registered_by


def test_an_opportunity_opens_with_its_partner_and_the_partner_can_be_replaced(
    client: TestClient, application: SalesApplication
) -> None:
    opened = opportunity(client, {**DEAL, "partner": {"partner_id": RESELLER}})
    replaced = register(
        client,
        f"/opportunities/{opened['id']}",
        {"partner_id": DISTRIBUTOR, "attribution": "influenced"},
    )

    assert opened["partner"]["partner_id"] == RESELLER
    assert (replaced.json()["partner_id"], replaced.json()["partner"]["attribution"]) == (
        DISTRIBUTOR,
        "influenced",
    )
    events = [e for e in published(application) if isinstance(e, OpportunityPartnerRegistered)]
    assert [(str(e.partner_id), e.attribution) for e in events] == [
        (RESELLER, PartnerAttribution.SOURCED),
        (DISTRIBUTOR, PartnerAttribution.INFLUENCED),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"partner_id": "nope"}, "body.partner_id"),
        ({"partner_id": RESELLER, "attribution": "paid"}, "body.attribution"),
        ({}, "body.partner_id"),
        ({"partner_id": RESELLER, "share": 10}, "body.share"),
    ],
)
def test_a_bad_partner_is_a_422_naming_the_field_and_stores_nothing(
    client: TestClient, application: SalesApplication, body: dict[str, Any], field: str
) -> None:
    deal = opportunity(client)
    before = stored(application)

    problem = assert_problem(register(client, f"/opportunities/{deal['id']}", body), 422)
    opening = assert_problem(post(client, "/opportunities", {**DEAL, "partner": body}), 422)

    assert field in [e["field"] for e in problem["errors"]]
    assert f"body.partner.{field.removeprefix('body.')}" in [e["field"] for e in opening["errors"]]
    assert stored(application) == before


def test_no_partner_is_registered_on_a_closed_deal(client: TestClient) -> None:
    deal = opportunity(client)
    post(client, f"/opportunities/{deal['id']}/lose", {"reason": "price"})

    assert_problem(register(client, f"/opportunities/{deal['id']}", {"partner_id": RESELLER}), 409)
