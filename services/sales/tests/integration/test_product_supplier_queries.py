"""The products a supplier provides, on PostgreSQL (the commerce read model)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from ..unit.test_commerce_api import READ, add_product, eur, get, ok, send

pytestmark = pytest.mark.integration


@pytest.fixture
def client(empty_app: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(empty_app)) as test_client:
        yield test_client


def test_the_products_a_supplier_provides_are_listed_by_sku(client: TestClient) -> None:
    supplier, other = str(uuid4()), str(uuid4())
    bolt, nut, washer = (add_product(client, sku) for sku in ("BOLT-1", "NUT-1", "WASHER-1"))
    for product, by in ((washer, supplier), (bolt, supplier), (nut, other)):
        path = f"/products/{product['id']}/suppliers/{by}"
        ok(send(client, "PUT", path, {"cost_price": eur("0.10")}))
    ok(send(client, "DELETE", f"/products/{washer['id']}/suppliers/{supplier}"))

    provided = get(client, "/products", supplier_id=supplier)
    everything = get(client, "/products")

    assert [p["sku"] for p in provided["items"]] == ["BOLT-1"]
    assert [p["sku"] for p in everything["items"]] == ["BOLT-1", "NUT-1", "WASHER-1"]
    bad = client.get("/products", params={"supplier_id": "nope"}, headers=READ)
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["query.supplier_id"]
