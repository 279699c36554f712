"""Lead search and the partner filters on PostgreSQL (they read the pipeline index)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from ..unit.test_pipeline_api import ADA, ADMIN, DEAL, READ, field_of, lead, opportunity, post

pytestmark = pytest.mark.integration

ZOE = {"given_name": "Zoë", "family_name": "Ångström", "email": "zoe@fjord.example"}
CORP = {"family_name": "Müller", "company": "Crème Brûlée GmbH", "phone": "+4930123456"}


@pytest.fixture
def client(empty_app: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(empty_app)) as test_client:
        yield test_client


def found(client: TestClient, **params: object) -> list[str]:
    answered = client.get("/leads", params=params, headers=READ)
    assert answered.status_code == 200, answered.text
    return [item["id"] for item in answered.json()["items"]]


def test_leads_are_found_by_name_company_or_email_whatever_the_case_and_accents(
    client: TestClient,
) -> None:
    ada, zoe, muller = (lead(client, body)["id"] for body in (ADA, ZOE, CORP))

    assert found(client, q="zoe") == [zoe]
    assert found(client, q="ANGSTROM") == [zoe]
    assert found(client, q="creme brulee") == [muller]
    assert found(client, q="mueller") == []  # folding drops accents, it does not transliterate
    assert found(client, q="muller") == [muller]
    assert found(client, q="ada@example.org") == [ada]
    assert found(client, q="example") == [zoe, ada]  # newest first
    assert found(client, q="example", status="qualified") == []


def test_a_search_is_paged_and_a_query_of_punctuation_alone_is_refused(
    client: TestClient,
) -> None:
    ids = [lead(client, {**ZOE, "family_name": f"Ångström {i}"})["id"] for i in range(3)]

    first = client.get("/leads", params={"q": "angstrom", "limit": 2}, headers=READ)
    rest = client.get(first.links["next"]["url"], headers=READ).json()

    assert [i["id"] for i in first.json()["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None
    for q in ("!!", " "):
        problem = assert_problem(client.get("/leads", params={"q": q}, headers=READ), 422)
        assert field_of(problem) == ["query.q"]
    too_long = client.get("/leads", params={"q": "x" * 201}, headers=READ)
    assert field_of(assert_problem(too_long, 422)) == ["query.q"]


def test_an_erased_lead_is_no_longer_found(client: TestClient) -> None:
    zoe = lead(client, ZOE)["id"]
    assert client.delete(f"/leads/{zoe}", headers=ADMIN).status_code == 204

    assert found(client, q="zoe") == []


def test_leads_and_opportunities_are_listed_by_partner(client: TestClient) -> None:
    partner, other = str(uuid4()), str(uuid4())
    theirs = lead(client, ZOE)["id"]
    lead(client, ADA)
    post(client, f"/leads/{theirs}/partner", {"partner_id": partner})
    sourced = opportunity(client, {**DEAL, "partner": {"partner_id": partner}})["id"]
    moved = opportunity(client)["id"]
    post(client, f"/opportunities/{moved}/partner", {"partner_id": other})
    converted = post(client, f"/leads/{theirs}/convert", DEAL).json()["conversion"]

    assert found(client, partner_id=partner) == [theirs]
    deals = client.get("/opportunities", params={"partner_id": partner}, headers=READ).json()
    assert [d["id"] for d in deals["items"]] == [converted["opportunity_id"], sourced]
    assert {d["partner_id"] for d in deals["items"]} == {partner}
    others = client.get("/opportunities", params={"partner_id": other}, headers=READ).json()
    assert [d["id"] for d in others["items"]] == [moved]
    bad = client.get("/opportunities", params={"partner_id": "nope"}, headers=READ)
    assert field_of(assert_problem(bad, 422)) == ["query.partner_id"]
