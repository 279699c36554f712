"""The pipeline HTTP API's queries on PostgreSQL (they read the pipeline index): lead and
opportunity lists, the forecast, pipelines, and rescoring on new scoring rules. Each test has an
empty database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.pages import encode_cursor
from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC
from crm_sales.pipeline.domain.pipelines import DEFAULT_PIPELINE_ID

from ..unit import test_activities_api as activities
from ..unit.test_pipeline_api import (
    ADA,
    ADMIN,
    DEAL,
    READ,
    STAGES,
    WRITE,
    field_of,
    key,
    lead,
    opportunity,
    post,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client(empty_app: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(empty_app)) as test_client:
        yield test_client


def test_listing_leads_pages_through_them(client: TestClient) -> None:
    ids = [lead(client, {**ADA, "family_name": f"L{i}"})["id"] for i in range(3)]

    answered = client.get("/leads", params={"limit": 2}, headers=READ)
    first = answered.json()
    following = client.get(answered.links["next"]["url"], headers=READ)
    rest = client.get("/leads", params={"cursor": first["next_cursor"]}, headers=READ).json()
    qualified = client.get("/leads", params={"status": "qualified"}, headers=READ).json()

    assert [item["id"] for item in first["items"] + rest["items"]] == ids[::-1]
    assert (rest["next_cursor"], qualified["items"]) == (None, [])
    assert following.json() == rest and "link" not in following.headers
    for params, field in [
        ({"cursor": "abc"}, "query.cursor"),
        ({"cursor": encode_cursor(["not a position"])}, "query.cursor"),
        ({"limit": 0}, "query.limit"),
        ({"status": "hot"}, "query.status"),
    ]:
        problem = assert_problem(client.get("/leads", params=params, headers=READ), 422)
        assert field_of(problem) == [field]


def test_erasing_a_lead_blinds_the_activities_about_it(client: TestClient) -> None:
    """The activities are found through the activity index: on PostgreSQL."""
    created = lead(client)
    regarding = {"type": "lead", "id": created["id"]}
    call = activities.schedule(client, activities.task(regarding=regarding, notes="Ada's divorce"))

    assert client.delete(f"/leads/{created['id']}", headers=ADMIN).status_code == 204
    assert client.delete(f"/leads/{created['id']}", headers=ADMIN).status_code == 204
    erased = client.get(f"/leads/{created['id']}", headers=READ).json()
    assert (erased["family_name"], erased["email"]) == (None, None)
    assert erased["erased_at"] is not None
    blind = client.get(f"/activities/{call['id']}", headers=READ).json()
    assert (blind["subject"], blind["notes"], blind["erased"]) == (None, None, True)


def test_listing_opportunities(client: TestClient) -> None:
    organization = str(uuid4())
    mine = opportunity(client, {**DEAL, "organization_id": organization})
    opportunity(client)

    def listed(**params: str) -> Any:
        return client.get("/opportunities", params=params, headers=READ)

    by_name = listed(organization_id=organization).json()
    by_alias = listed(account_id=organization).json()  # the deprecated alias, for one release
    both = listed(organization_id=organization, account_id=organization).json()
    conflicting = listed(organization_id=organization, account_id=str(uuid4()))

    assert [item["id"] for item in by_name["items"]] == [mine["id"]]
    assert by_alias["items"] == by_name["items"] == both["items"]
    item = by_name["items"][0]
    assert (item["amount"], item["organization_id"], item["account_id"]) == (
        "12000.00",
        organization,
        organization,
    )
    assert assert_problem(conflicting, 422)["errors"][0]["field"] == "query.account_id"


def test_the_forecast(client: TestClient) -> None:
    opportunity(client, {**DEAL, "stage_id": "proposal"})

    forecast = client.get("/forecast", params={"period": "month"}, headers=READ).json()

    (line,) = forecast["lines"]
    assert (line["period"], line["owner"], line["weighted_amount"]) == (
        "2025-06",
        "bob@example.com",
        "7200.00",
    )
    assert forecast["totals"][0]["owner"] == "*"
    for params, field in [
        ({"period": "week"}, "query.period"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "query.to"),
        ({"to": "9999-12-31"}, "query.to"),
        ({"from": "0001-01-01"}, "query.from"),
    ]:
        problem = assert_problem(client.get("/forecast", params=params, headers=READ), 422)
        assert field_of(problem) == [field]


def test_pipelines_are_configured_by_admins(client: TestClient) -> None:
    listed = client.get("/pipelines", headers=READ).json()
    assert [(p["id"], p["is_default"]) for p in listed["items"]] == [
        (str(DEFAULT_PIPELINE_ID), True)
    ]

    assert_problem(post(client, "/pipelines", {"name": "Partners", "stages": STAGES}), 403)
    created = post(client, "/pipelines", {"name": "Partners", "stages": STAGES}, auth=ADMIN)
    pipeline = created.json()
    revised = client.put(
        f"/pipelines/{pipeline['id']}",
        json={"name": "Partner deals", "stages": STAGES},
        headers={**ADMIN, **key(), "If-Match": created.headers["ETag"]},
    )
    deal = opportunity(client, {**DEAL, "pipeline_id": pipeline["id"]})

    assert created.status_code == 201
    assert (revised.json()["name"], revised.json()["version"]) == ("Partner deals", 2)
    assert (deal["stage_id"], deal["probability"]) == ("demo", 30)


def test_scoring_rules_are_published_by_admins_and_rescore_open_leads(client: TestClient) -> None:
    created = lead(client)
    rules = client.get("/scoring/rules", headers=READ)
    mine = {
        "rule_id": "engineers",
        "kind": "attribute_contains",
        "points": 50,
        "explanation": "Engineering",
        "attribute": "title",
        "values": ["engineering"],
    }

    assert (rules.json()["revision"], rules.headers["ETag"]) == (1, 'W/"1"')
    assert_problem(
        client.put("/scoring/rules", json={"rules": [mine]}, headers={**WRITE, **key()}), 403
    )
    published = client.put(
        "/scoring/rules", json={"rules": [mine]}, headers={**ADMIN, **key(), "If-Match": 'W/"1"'}
    )

    assert published.json()["revision"] == 2
    rescored = client.get(f"/leads/{created['id']}", headers=READ).json()
    assert (rescored["score"], rescored["rule_set_revision"]) == (50, 2)
    old = client.get("/scoring/rules", params={"revision": 1}, headers=READ).json()
    assert old["revision"] == 1 and len(old["rules"]) > 1
    assert_problem(client.get("/scoring/rules", params={"revision": 7}, headers=READ), 404)
