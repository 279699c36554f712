"""End to end: partners are more than labels.

Contacts registers a reseller (a partner organization) and a buyer under its group; sales finds a
lead by name whatever the accents, registers the reseller on it (deal registration), converts it
into an opportunity that inherits the partner, opens an influenced deal and wins the sourced one;
analytics then answers the organization 360 of every organization from the organization topic
(name, kinds, partner type, hierarchy) and the partner's pipeline and won revenue, which are
checked against the figures worked out by hand. A supplier registered in contacts provides a
product of the catalog (its code, the cost price), and the catalog lists what it provides. Every
service runs as processes.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from crm_platform.testing import eventually

pytestmark = pytest.mark.e2e

PATIENCE = 90  # seconds for the read models to show what was published


@pytest.fixture(scope="module")
def clients(start: Any, token: str) -> Any:
    from crm_platform.devtoken import issue_token

    contacts = start("crm-contacts-api", http=True)
    start("crm-contacts-relay")
    sales = start("crm-sales-api", http=True)
    start("crm-sales-relay")
    analytics = start("crm-analytics-api", http=True)
    start("crm-analytics-worker")
    seller = issue_token(["sales:read", "sales:write"], "e2e-seller@crm.local")
    made = [
        httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {t}"}, timeout=15)
        for s, t in ((contacts, token), (sales, seller), (analytics, token))
    ]
    yield made
    for client in made:
        client.close()


def command(client: httpx.Client, path: str, body: Any = None, status: int = 200) -> Any:
    response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == status, f"{path}: {response.text}"
    return response.json()


def answered(client: httpx.Client, path: str, ready: Any, **params: Any) -> Any:
    def check() -> Any:
        response = client.get(path, params=params)
        return response.json() if response.status_code == 200 and ready(response.json()) else None

    return eventually(check, within=PATIENCE, what=path)


def test_a_partner_sources_and_influences_deals_and_analytics_adds_them_up(clients: Any) -> None:
    contacts, sales, analytics = clients
    reseller = command(
        contacts,
        "/organizations",
        {"name": "Fjord Resellers AS", "kinds": ["partner"], "partner_type": "reseller"},
        201,
    )["id"]
    group = command(contacts, "/organizations", {"name": "Nordic Group"}, 201)["id"]
    buyer = command(contacts, "/organizations", {"name": "Nordic Buyer", "parent_id": group}, 201)[
        "id"
    ]
    family = f"Ångström-{uuid.uuid4().hex[:8]}"  # this run's lead among every other run's
    lead = command(
        sales,
        "/leads",
        {"given_name": "Zoë", "family_name": family, "email": "zoe@fjord.example"},
        201,
    )["id"]

    # The rep finds the lead without typing its accents, and registers the reseller on it.
    found = sales.get("/leads", params={"q": f"zoe angstrom {family[-8:]}"}).json()["items"]
    assert [item["id"] for item in found] == [lead]
    command(sales, f"/leads/{lead}/partner", {"partner_id": reseller, "attribution": "sourced"})
    converted = command(
        sales,
        f"/leads/{lead}/convert",
        {
            "name": "Nordic Buyer: 40 seats",
            "amount": "12000.00",
            "currency": "EUR",
            "expected_close_date": "2027-03-31",
            "organization_id": buyer,
        },
        201,
    )
    sourced = converted["conversion"]["opportunity_id"]
    influenced = command(
        sales,
        "/opportunities",
        {
            "name": "Nordic Buyer: support",
            "amount": "4000.00",
            "currency": "EUR",
            "probability": 25,
            "expected_close_date": "2027-06-30",
            "organization_id": buyer,
            "partner": {"partner_id": reseller, "attribution": "influenced"},
        },
        201,
    )["id"]
    command(sales, f"/opportunities/{sourced}/win", {"amount": "12500.00"})

    listed = sales.get("/opportunities", params={"partner_id": reseller}).json()["items"]
    assert [deal["id"] for deal in listed] == [influenced, sourced]
    assert sales.get(f"/opportunities/{sourced}").json()["partner"]["attribution"] == "sourced"

    # By hand: sourced, one deal won at 12,500; influenced, one open deal of 4,000 at 25 %.
    figures = answered(
        analytics,
        "/analytics/sales/partners",
        lambda body: (
            len(body["items"]) == 2
            and body["items"][1]["won_count"] == 1
            and body["items"][0]["partner_name"]  # its organization event read too
        ),
        partner_id=reseller,
    )["items"]
    assert [
        (
            f["attribution"],
            f["partner_name"],
            f["open_count"],
            f["open_amount"],
            f["weighted_amount"],
        )
        for f in figures
    ] == [
        ("influenced", "Fjord Resellers AS", 1, "4000.00", "1000.00"),
        ("sourced", "Fjord Resellers AS", 0, "0", "0"),
    ]
    assert [(f["won_count"], f["won_amount"]) for f in figures] == [(0, "0"), (1, "12500.00")]

    # Every organization answers from the organization topic, deals or not.
    partner = answered(analytics, f"/organizations/{reseller}/360", lambda b: b["partner_since"])
    assert (partner["name"], partner["kinds"], partner["partner_type"]) == (
        "Fjord Resellers AS",
        ["partner"],
        "reseller",
    )
    # The parent's name comes from its own registration, on another partition: wait for it too.
    account = answered(
        analytics,
        f"/organizations/{buyer}/360",
        lambda b: b["name"] and b["open_deals"] and (b["parent"] or {}).get("name"),
    )
    assert account["parent"] == {"organization_id": group, "name": "Nordic Group"}
    assert [d["opportunity_id"] for d in account["open_deals"]] == [influenced]
    parent = answered(analytics, f"/organizations/{group}/360", lambda b: b["subsidiaries"])
    assert parent["subsidiaries"] == [{"organization_id": buyer, "name": "Nordic Buyer"}]


def test_a_supplier_provides_products_of_the_catalog(clients: Any) -> None:
    contacts, sales, _ = clients
    supplier = command(
        contacts, "/organizations", {"name": "Fjord Parts AS", "kinds": ["supplier"]}, 201
    )["id"]
    sku = f"BOLT-{uuid.uuid4().hex[:8]}"
    product = command(
        sales,
        "/products",
        {"sku": sku, "name": "Bolt", "unit": "each", "tax_category": "standard"},
        201,
    )["id"]
    offer = {"supplier_sku": "FJ-4410", "cost_price": {"amount": "0.12", "currency": "EUR"}}

    response = sales.put(
        f"/products/{product}/suppliers/{supplier}",
        json=offer,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )

    assert response.status_code == 200, response.text
    assert response.json()["suppliers"] == [
        {
            "supplier_id": supplier,
            "supplier_sku": "FJ-4410",
            "cost_price": {"amount": "0.12", "currency": "EUR"},
        }
    ]
    provided = sales.get("/products", params={"supplier_id": supplier}).json()["items"]
    assert [p["sku"] for p in provided] == [sku]
