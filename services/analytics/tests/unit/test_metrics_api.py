"""The metrics routes over fake readers: shapes, lineage, problems, and the events scores cause."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from crm_analytics.api.metrics_routes import customer_value_router, metrics_router
from crm_analytics.application.metrics_scores import changes, figures_document, outgoing
from crm_analytics.domain.metrics_customer_value import score_base
from crm_analytics.domain.metrics_facts import FactDocuments, Subject, file_facts
from crm_analytics.domain.metrics_value import ValueModel
from crm_events import registry
from crm_platform.devtoken import issue_token
from crm_platform.web.app import create_api
from crm_platform.web.testing import assert_problem

from .test_metrics_facts import sales_events

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 1, tzinfo=UTC)


class FakeFacts:
    def __init__(self, documents: FactDocuments) -> None:
        self.documents = documents

    async def of(self, subject: Subject, key: str) -> dict[str, Any]:
        return self.documents[subject].get(key, {})

    async def all(self, subject: Subject) -> dict[str, dict[str, Any]]:
        return self.documents[subject]


class FakeScores(dict):
    async def get(self, customer_id: str) -> dict[str, Any] | None:  # type: ignore[override]
        return super().get(customer_id)


def order(customer: str, days_ago: int, *products: str, amount: str = "100.00"):
    lines = [{"product_id": p, "sku": "S", "name": "N"} for p in products]
    return {
        "type": "OrderPlaced",
        "v": 1,
        "at": NOW - timedelta(days=days_ago),
        "order_id": f"{customer}-{days_ago}",
        "amount": amount,
        "currency": "EUR",
        "lines": lines,
    }


@pytest.fixture
def base() -> dict[str, dict[str, Any]]:
    tent, stove = str(uuid4()), str(uuid4())
    loyal, occasional, other, silent = (str(uuid4()) for _ in range(4))
    return {
        loyal: {
            str(uuid4()): order(loyal, 10, tent, stove),
            str(uuid4()): order(loyal, 40, tent, stove),
        },
        occasional: {str(uuid4()): order(occasional, 200, tent)},
        other: {str(uuid4()): order(other, 5, str(uuid4()))},
        silent: {},
    }


@pytest.fixture
def scores(base) -> FakeScores:
    figures = score_base(base, model=ValueModel(), currency="EUR", as_of=NOW)
    return FakeScores(
        {c: figures_document(f, NOW) | {"_id": c, "version": 0} for c, f in figures.items()}
    )


@pytest.fixture
async def client(scores) -> AsyncIterator[httpx.AsyncClient]:
    _, events = sales_events()
    routers = [
        customer_value_router(scores, "EUR"),
        metrics_router(FakeFacts(file_facts(events))),
    ]
    app = create_api(title="t", service="analytics", routers=routers)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {issue_token(['analytics:read'])}"},
    ) as http:
        yield http


async def test_customer_value_names_model_tier_rfm_and_lineage(client, base):
    loyal = next(iter(base))
    body = (await client.get(f"/customers/{loyal}/value")).json()
    assert body["lifetime_value"]["present"] == "0.00"
    assert body["lifetime_value"]["tier"] == "platinum"
    assert (
        body["rfm"]["frequency"] == 4
    )  # above two of the three buyers and body["currency"] == "EUR"
    assert sorted(body["lineage"]["future_value"]) == sorted(base[loyal])


async def test_suggestions_for_a_customer(client, base):
    loyal, occasional, *_ = base
    body = (await client.get(f"/customers/{occasional}/suggestions")).json()
    stove = next(iter(base[loyal].values()))["lines"][1]["product_id"]
    assert [s["product_id"] for s in body["suggestions"]] == [stove]


async def test_unknown_customer_and_bad_input_are_problems(client):
    missing = await client.get(f"/customers/{uuid4()}/value")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    bad = await client.get("/customers/not-a-uuid/suggestions")
    assert bad.status_code == 422
    naive = await client.get("/analytics/sales/pipeline", params={"as_of": "2025-03-01T00:00:00"})
    assert naive.status_code == 422 and "as_of" in naive.text
    extreme = await client.get(
        "/analytics/sales/pipeline", params={"as_of": "0001-01-01T00:00:00+14:00"}
    )
    assert extreme.status_code == 422 and "as_of" in extreme.text


async def test_sales_routes(client):
    pipeline = (await client.get("/analytics/sales/pipeline")).json()
    assert {row["owner"] for row in pipeline} == {"bob", "carol"}
    funnel = (await client.get("/analytics/sales/funnel")).json()
    assert funnel[0]["steps"][-1]["stage_id"] == "won"
    performance = (await client.get("/analytics/sales/performance")).json()
    assert performance["win_rate"] == "0.5000"
    forecast = (await client.get("/analytics/sales/forecast")).json()
    assert [p["period"] for p in forecast] == ["2025-03", "2025-04"]
    past = (
        await client.get("/analytics/sales/performance", params={"as_of": "2025-03-01T10:00:00Z"})
    ).json()
    assert (past["won"], past["opportunities"]) == (0, 4)


async def test_the_funnels_answer_a_cohort_and_refuse_a_period_that_is_none(client):
    lead_funnel = (await client.get("/analytics/sales/lead-funnel")).json()
    assert [s["step"] for s in lead_funnel["steps"]] == [
        "captured",
        "qualified",
        "converted",
        "won",
    ]
    march = {"from": "2025-03-01", "to": "2025-03-31"}
    [row] = (await client.get("/analytics/sales/funnel", params=march)).json()
    assert row["steps"][0]["reached"] == 4  # the four deals were opened in March
    april = {"from": "2025-04-01"}
    assert (await client.get("/analytics/sales/funnel", params=april)).json() == []
    for path in ("/analytics/sales/funnel", "/analytics/sales/lead-funnel"):
        backwards = await client.get(path, params={"from": "2025-04-01", "to": "2025-03-01"})
        assert assert_problem(backwards, 422)["errors"][0]["field"] == "query.to"
        not_a_day = await client.get(path, params={"from": "March"})
        assert assert_problem(not_a_day, 422)["errors"][0]["field"].split(".") == [
            "query",
            "from",
        ]


async def test_marketing_and_service_routes(client):
    assert (await client.get("/analytics/marketing/campaigns")).json() == []
    assert (await client.get(f"/analytics/marketing/campaigns/{uuid4()}")).status_code == 404
    service = (await client.get("/analytics/service")).json()
    assert service["tickets"] == 0 and service["csat"] is None


async def test_reading_needs_the_scope(client):
    response = await client.get("/analytics/service", headers={"Authorization": ""})
    assert response.status_code == 401


def test_scores_publish_only_changes_with_stable_ids(base):
    figures = score_base(base, model=ValueModel(), currency="EUR", as_of=NOW)
    loyal = next(iter(base))
    first = changes(None, figures[loyal], "EUR", NOW)
    assert [e.event_type for e in first] == ["CustomerRfmScored"]
    stored = figures_document(figures[loyal], NOW)
    assert changes(stored, figures[loyal], "EUR", NOW) == []
    later = NOW + timedelta(days=800)  # three expected gaps of silence
    aged = score_base(base, model=ValueModel(), currency="EUR", as_of=later)[loyal]
    # silence lowers the recency score too (it is on the calendar): a new RFM, and the churn level
    rescored, crossed = changes(stored, aged, "EUR", later)
    assert (rescored.event_type, crossed.event_type) == ("CustomerRfmScored", "ChurnRiskChanged")
    assert rescored.recency == 1
    assert (crossed.previous_level, crossed.level) == ("low", "medium")
    assert crossed.factors[0].name == "inactivity"
    event = outgoing(crossed, loyal, 2, later)
    assert event.id == outgoing(crossed, loyal, 2, later).id
    assert registry.parse(event.to_json()) == event
