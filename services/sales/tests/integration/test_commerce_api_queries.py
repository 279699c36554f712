"""The commerce HTTP API's lists on PostgreSQL (they read the commerce read model): invoices by
customer and status, receivables, products by SKU. Each test has an empty database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from ..unit import test_commerce_api as unit
from ..unit.test_commerce_api import (
    NOW,
    READ,
    Clock,
    add_product,
    eur,
    get,
    invoice_for,
    ok,
    payment,
    send,
)

pytestmark = pytest.mark.integration

# The unit tests' fixtures, on this module's client: the business clock, and a priced catalog.
clock = unit.clock
catalog = unit.catalog


@pytest.fixture
def application(empty_app: SalesApplication, clock: Clock) -> SalesApplication:
    empty_app.clock = clock  # type: ignore[method-assign]
    return empty_app


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def test_invoices_are_listed_by_customer_and_status_newest_first_page_by_page(
    client: TestClient, clock: Clock, catalog: dict[str, Any]
) -> None:
    customer, organization = str(uuid4()), str(uuid4())
    mine = [
        invoice_for(client, catalog, customer_id=customer, organization_id=organization)
        for _ in range(3)
    ]
    invoice_for(client, catalog)
    ok(send(client, "POST", f"/invoices/{mine[0]['id']}/payments", payment("1024.10")), 201)

    first = get(client, "/invoices", customer_id=customer, limit=2)
    second = get(client, "/invoices", customer_id=customer, limit=2, cursor=first["next_cursor"])

    listed = [i["number"] for i in first["items"] + second["items"]]
    named = {(i["organization_id"], i["account_id"]) for i in first["items"] + second["items"]}
    assert named == {(organization, organization)}  # account_id: deprecated, the same value
    assert listed == [i["number"] for i in reversed(mine)]
    assert second["next_cursor"] is None
    assert [
        i["id"] for i in get(client, "/invoices", customer_id=customer, status="paid")["items"]
    ] == [mine[0]["id"]]
    assert get(client, "/invoices", customer_id=customer, status="overdue")["items"] == []
    clock.now = NOW + timedelta(days=31)
    overdue = get(client, "/invoices", customer_id=customer, status="overdue")["items"]
    assert sorted(i["id"] for i in overdue) == sorted(i["id"] for i in mine[1:])
    assert {i["status"] for i in overdue} == {"overdue"}
    problem = assert_problem(
        client.get("/invoices", headers=READ, params={"cursor": "nonsense"}), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["query.cursor"]


def test_receivables_total_what_each_customer_owes_per_currency(
    client: TestClient, clock: Clock, catalog: dict[str, Any]
) -> None:
    alice, bob = sorted(str(uuid4()) for _ in range(2))
    paid_in_part = invoice_for(client, catalog, customer_id=alice)
    ok(send(client, "POST", f"/invoices/{paid_in_part['id']}/payments", payment("24.10")), 201)
    invoice_for(client, catalog, customer_id=alice)
    invoice_for(client, catalog, customer_id=bob)
    settled = invoice_for(client, catalog, customer_id=bob)
    ok(send(client, "POST", f"/invoices/{settled['id']}/payments", payment("1024.10")), 201)
    clock.now = NOW + timedelta(days=31)

    first = get(client, "/receivables", limit=1)
    second = get(client, "/receivables", limit=1, cursor=first["next_cursor"])

    assert [r["customer_id"] for r in first["items"] + second["items"]] == [alice, bob]
    assert second["next_cursor"] is None
    owed = {r["customer_id"]: r for r in get(client, "/receivables", limit=200)["items"]}
    assert owed[alice] == {
        "customer_id": alice,
        "currency": "EUR",
        "open_invoices": 2,
        "balance_due": eur("2024.10"),
        "overdue": eur("2024.10"),
    }
    assert (owed[bob]["open_invoices"], owed[bob]["balance_due"]) == (1, eur("1024.10"))
    only_bob = get(client, "/receivables", customer_id=bob, currency="EUR")["items"]
    assert [r["customer_id"] for r in only_bob] == [bob]


def test_products_are_listed_by_sku(client: TestClient, catalog: dict[str, Any]) -> None:
    retired = add_product(client, "OLD-1")
    ok(send(client, "POST", f"/products/{retired['id']}/retire"))

    first = get(client, "/products", limit=2)
    rest = get(client, "/products", limit=2, cursor=first["next_cursor"])

    assert [p["sku"] for p in first["items"] + rest["items"]] == ["OLD-1", "SUP-1", "WID-1"]
    assert [p["sku"] for p in get(client, "/products", status="active")["items"]] == [
        "SUP-1",
        "WID-1",
    ]
