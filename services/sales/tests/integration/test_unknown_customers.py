"""Deals naming a customer sales has not heard of, on PostgreSQL: listed by ``customer_known``,
and cleared when contacts registers the customer (the reaction reads the pipeline index)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from ..unit.test_pipeline_api import ADA, DEAL, READ, lead, opportunity, post

pytestmark = pytest.mark.integration


@pytest.fixture
def client(empty_app: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(empty_app)) as test_client:
        yield test_client


def listed(client: TestClient, **params: object) -> list[str]:
    return [
        o["id"] for o in client.get("/opportunities", params=params, headers=READ).json()["items"]
    ]


def test_the_flags_of_a_customer_clear_when_contacts_registers_them(
    client: TestClient, empty_app: SalesApplication
) -> None:
    customer, stranger = uuid4(), uuid4()
    open_deal = opportunity(client, {**DEAL, "contact_id": str(customer)})["id"]
    lost_deal = opportunity(client, {**DEAL, "contact_id": str(customer)})["id"]
    post(client, f"/opportunities/{lost_deal}/lose", {"reason": "price"})
    other = opportunity(client, {**DEAL, "contact_id": str(stranger)})["id"]
    their_lead = lead(client, {**ADA, "customer_id": str(customer)})["id"]
    assert listed(client, customer_known="false") == [other, lost_deal, open_deal]
    unknown_leads = client.get("/leads", params={"customer_known": "false"}, headers=READ)
    assert [item["id"] for item in unknown_leads.json()["items"]] == [their_lead]

    cleared = empty_app.note_customer_registered(customer)
    again = empty_app.note_customer_registered(customer)  # a redelivery changes nothing
    later = opportunity(client, {**DEAL, "contact_id": str(customer)})

    assert sorted(map(str, cleared)) == sorted([open_deal, lost_deal, their_lead])
    assert again == []
    assert client.get(f"/leads/{their_lead}", headers=READ).json()["customer_known"] is True
    assert listed(client, customer_known="false") == [other]
    assert later["customer_known"] is True
    assert empty_app.get_opportunity(open_deal).customer_known
