"""The suppliers of a product on the in-memory store: what each provides it at (their code, the
cost price), refusals naming the field, and the published events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_events.sales.commerce import ProductSupplierRemoved, ProductSupplierSet
from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from .test_commerce_api import add_product, eur, ok, send
from .test_pipeline_contracts import published

pytestmark = pytest.mark.unit


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def supplier_path(product: dict[str, Any], supplier_id: str) -> str:
    return f"/products/{product['id']}/suppliers/{supplier_id}"


def test_a_product_shows_what_each_supplier_provides_it_at_and_the_events_say_so(
    client: TestClient, application: SalesApplication
) -> None:
    product = add_product(client, "WIDGET-1")
    fjord, nordic = sorted([str(uuid4()), str(uuid4())])
    offer = {"supplier_sku": "FJ-4410", "cost_price": eur("61.50")}

    ok(send(client, "PUT", supplier_path(product, fjord), offer))
    ok(send(client, "PUT", supplier_path(product, fjord), offer))  # the same offer: no event
    ok(send(client, "PUT", supplier_path(product, nordic), {"cost_price": eur("59.90")}))
    shown = ok(send(client, "DELETE", supplier_path(product, nordic)))

    assert shown["suppliers"] == [
        {
            "supplier_id": fjord,
            "supplier_sku": "FJ-4410",
            "cost_price": {"amount": "61.50", "currency": "EUR"},
        }
    ]
    events = [
        e
        for e in published(application)
        if isinstance(e, ProductSupplierSet | ProductSupplierRemoved)
    ]
    assert [(type(e), str(e.supplier_id)) for e in events] == [
        (ProductSupplierSet, fjord),
        (ProductSupplierSet, nordic),
        (ProductSupplierRemoved, nordic),
    ]
    assert (events[0].sku, str(events[0].cost_price.amount)) == ("WIDGET-1", "61.50")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cost_price": {"amount": "1.234", "currency": "EUR"}}, "body.cost_price.amount"),
        ({"cost_price": eur("-1")}, "body.cost_price.amount"),
        ({"cost_price": {"amount": "1", "currency": "XXX"}}, "body.cost_price.currency"),
        ({"cost_price": eur("1"), "supplier_sku": "bad code!"}, "body.supplier_sku"),
        ({}, "body.cost_price"),
    ],
)
def test_a_bad_offer_is_a_422_naming_the_field_and_stores_nothing(
    client: TestClient, application: SalesApplication, body: dict[str, Any], field: str
) -> None:
    product = add_product(client, "WIDGET-2")
    before = application.recorder.max_notification_id()

    problem = assert_problem(send(client, "PUT", supplier_path(product, str(uuid4())), body), 422)

    assert field in [e["field"] for e in problem["errors"]]
    assert application.recorder.max_notification_id() == before
