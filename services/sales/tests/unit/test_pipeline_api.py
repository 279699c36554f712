"""The pipeline HTTP API on the in-memory store: commands and every refusal (its queries, which
read the pipeline index, are tested on PostgreSQL: integration/test_pipeline_api_queries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.pages import EMBEDDED_LIMIT
from crm_platform.web.testing import assert_problem, bearer
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

pytestmark = pytest.mark.unit

WRITE = bearer("sales:write", subject="bob@example.com")
READ = bearer("sales:read", subject="bob@example.com")
ADMIN = bearer("sales:admin", "sales:read", subject="admin@example.com")
ADA = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "email": "Ada@Example.org",
    "title": "Head of Engineering",
    "company_size": 120,
}
DEAL = {
    "name": "Acme: 50 seats",
    "amount": "12000.00",
    "currency": "EUR",
    "expected_close_date": "2025-06-30",
}
STAGES = [
    {"stage_id": "demo", "name": "Demo", "probability": 30},
    {"stage_id": "won", "name": "Won", "probability": 100, "kind": "won"},
    {"stage_id": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
]


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid4())}


def post(client: TestClient, path: str, body: Any = None, auth: Any = WRITE, **headers: str) -> Any:
    return client.post(path, json=body, headers={**auth, **key(), **headers})


def lead(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = post(client, "/leads", body or ADA)
    assert response.status_code == 201, response.text
    return response.json()


def opportunity(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = post(client, "/opportunities", body or DEAL)
    assert response.status_code == 201, response.text
    return response.json()


def field_of(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem.get("errors", [])]


def stored(application: SalesApplication) -> int:
    return application.recorder.max_notification_id() or 0


# --- leads ---------------------------------------------------------------------------------------


def test_capturing_a_lead_scores_it_and_answers_at_its_location(client: TestClient) -> None:
    headers = key()
    response = client.post("/leads", json=ADA, headers={**WRITE, **headers})
    retry = client.post("/leads", json=ADA, headers={**WRITE, **headers})
    reused = client.post("/leads", json={**ADA, "company_size": 3}, headers={**WRITE, **headers})

    created = response.json()
    assert (response.status_code, response.headers["ETag"]) == (201, f'W/"{created["version"]}"')
    assert (created["email"], created["owner"], created["status"]) == (
        "ada@example.org",
        "bob@example.com",
        "new",
    )
    assert created["score"] == sum(r["points"] for r in created["score_reasons"]) == 30
    assert client.get(response.headers["Location"], headers=READ).json() == created
    assert (retry.json(), retry.headers["Idempotent-Replayed"]) == (created, "true")
    assert field_of(assert_problem(reused, 422)) == ["header.Idempotency-Key"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ADA, "email": "ada.example.org"}, "body.email"),
        ({**ADA, "email": None}, "body.email"),  # no contact point
        ({**ADA, "phone": "030 123"}, "body.phone"),
        ({**ADA, "family_name": "  "}, "body.family_name"),
        ({"given_name": "Ada", "email": "ada@example.org"}, "body.family_name"),
        ({**ADA, "country": "Deutschland"}, "body.country"),
        ({**ADA, "company_size": 0}, "body.company_size"),
        ({**ADA, "source": "pigeon"}, "body.source"),
        ({**ADA, "fields": {"ok": {"nested": 1}}}, "body.fields.ok"),
        ({**ADA, "fields": {"9lives": 1}}, "body.fields.9lives"),
        ({**ADA, "fields": {"score": 2**53}}, "body.fields.score"),
        ({**ADA, "customer_id": "nope"}, "body.customer_id"),
        ({**ADA, "nickname": "Countess"}, "body.nickname"),
    ],
)
def test_invalid_leads_name_the_field_and_store_nothing(
    client: TestClient, application: SalesApplication, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(post(client, "/leads", body), 422)
    # A value fitting no member of a union is reported once per member, below the field.
    assert all(f == field or f.startswith(f"{field}.") for f in field_of(problem))
    assert stored(application) == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_custom_lead_values_are_finite_numbers(
    client: TestClient, application: SalesApplication, number: str
) -> None:
    body = '{"family_name": "Lovelace", "email": "ada@example.org", "fields": {"score": NUMBER}}'
    response = client.post(
        "/leads",
        content=body.replace("NUMBER", number),
        headers={**WRITE, **key(), "Content-Type": "application/json"},
    )

    assert field_of(assert_problem(response, 422)) == ["body.fields.score"]
    assert stored(application) == 0


def test_commands_need_an_idempotency_key_and_a_token_with_the_scope(client: TestClient) -> None:
    created = lead(client)

    assert field_of(assert_problem(client.post("/leads", json=ADA, headers=WRITE), 422)) == [
        "header.Idempotency-Key"
    ]
    assert_problem(client.post("/leads", json=ADA, headers=key()), 401)
    assert_problem(post(client, "/leads", ADA, auth=READ), 403)
    assert_problem(client.get(f"/leads/{created['id']}", headers=WRITE), 403)
    assert_problem(client.delete(f"/leads/{created['id']}", headers=WRITE), 403)


def test_the_lead_life_cycle(client: TestClient) -> None:
    created = lead(client)
    path = f"/leads/{created['id']}"

    qualified = post(client, f"{path}/qualify", **{"If-Match": f'W/"{created["version"]}"'})
    converted = post(client, f"{path}/convert", {**DEAL, "organization_id": str(uuid4())})

    assert (qualified.status_code, qualified.json()["status"]) == (200, "qualified")
    assert qualified.json()["qualified_by"] == "bob@example.com"
    assert converted.status_code == 201, converted.text
    conversion = converted.json()["conversion"]
    assert converted.headers["Location"].endswith(f"/opportunities/{conversion['opportunity_id']}")
    deal = client.get(converted.headers["Location"], headers=READ).json()
    assert (deal["lead_id"], deal["contact_id"], deal["stage_id"]) == (
        created["id"],
        conversion["customer_id"],
        "prospecting",
    )
    problem = assert_problem(post(client, f"{path}/disqualify", {"reason": "spam"}), 409)
    assert problem["type"].endswith("/invalid-state")


def test_state_and_version_refusals(client: TestClient, application: SalesApplication) -> None:
    created = lead(client)
    path = f"/leads/{created['id']}"
    post(client, f"{path}/disqualify", {"reason": "no_budget", "note": "Frozen until Q3"})
    before = stored(application)

    wrong_state = post(client, f"{path}/convert", DEAL)
    stale = post(client, f"{path}/qualify", **{"If-Match": 'W/"1"'})
    stale_body = post(client, f"{path}/qualify", {"expected_version": 1})
    malformed = post(client, f"{path}/qualify", **{"If-Match": "yesterday"})
    bad_reason = post(client, f"{path}/disqualify", {"reason": "bad-vibes"})

    assert_problem(wrong_state, 409)
    assert assert_problem(stale, 409)["current_version"] == created["version"] + 1
    assert_problem(stale_body, 409)
    assert_problem(malformed, 400)
    assert field_of(assert_problem(bad_reason, 422)) == ["body.reason"]
    assert stored(application) == before


def test_updating_a_lead(client: TestClient) -> None:
    created = lead(client)
    path = f"/leads/{created['id']}"

    response = client.patch(
        path, json={"phone": "+44 20 7123 4567", "title": None}, headers={**WRITE, **key()}
    )
    refused = client.patch(path, json={"family_name": None}, headers={**WRITE, **key()})

    updated = response.json()
    assert (updated["phone"], updated["title"], updated["given_name"]) == (
        "+442071234567",
        None,
        "Ada",
    )
    assert updated["score"] == 20  # a phone (+5), no decision maker title any more (-15)
    assert field_of(assert_problem(refused, 422)) == ["body.family_name"]


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    unknown = uuid4()
    assert_problem(client.get(f"/leads/{unknown}", headers=READ), 404)
    assert_problem(post(client, f"/leads/{unknown}/qualify"), 404)
    assert_problem(post(client, f"/leads/{unknown}/convert", DEAL), 404)
    assert_problem(client.delete(f"/leads/{unknown}", headers=ADMIN), 404)
    assert field_of(assert_problem(client.get("/leads/nope", headers=READ), 422)) == [
        "path.lead_id"
    ]


# --- opportunities -------------------------------------------------------------------------------


def test_an_opportunity_from_open_to_won(client: TestClient) -> None:
    created = opportunity(client)
    path = f"/opportunities/{created['id']}"

    moved = post(client, f"{path}/stage", {"stage_id": "negotiation"})
    updated = client.patch(
        path,
        json={"amount": "13000", "probability": 85},
        headers={**WRITE, **key(), "If-Match": moved.headers["ETag"]},
    )
    won = post(client, f"{path}/win", {"reason": "Best fit"})

    assert (created["stage_id"], created["probability"], created["owner"]) == (
        "prospecting",
        10,
        "bob@example.com",
    )
    assert (moved.json()["stage_id"], moved.json()["probability"]) == ("negotiation", 80)
    assert (updated.json()["amount"], updated.json()["probability"]) == ("13000", 85)
    body = won.json()
    assert (body["status"], body["stage_id"], body["closing"]["reason"]) == (
        "won",
        "won",
        "Best fit",
    )
    assert [(h["from_stage_id"], h["to_stage_id"]) for h in body["history"]] == [
        (None, "prospecting"),
        ("prospecting", "negotiation"),
        ("negotiation", "won"),
    ]
    assert_problem(post(client, f"{path}/stage", {"stage_id": "proposal"}), 409)
    assert_problem(post(client, f"{path}/lose", {"reason": "price"}), 409)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DEAL, "amount": "-1"}, "body.amount"),
        ({**DEAL, "amount": "12.345678"}, "body.amount"),
        ({**DEAL, "amount": "lots"}, "body.amount"),
        ({**DEAL, "currency": "eur"}, "body.currency"),
        ({**DEAL, "probability": 101}, "body.probability"),
        ({**DEAL, "expected_close_date": "2025-13-01"}, "body.expected_close_date"),
        ({**DEAL, "expected_close_date": "1999-12-31"}, "body.expected_close_date"),
        ({**DEAL, "stage_id": "won"}, "body.stage_id"),
        ({**DEAL, "stage_id": "nowhere"}, "body.stage_id"),
        ({**DEAL, "name": ""}, "body.name"),
        ({key: value for key, value in DEAL.items() if key != "currency"}, "body.currency"),
    ],
)
def test_invalid_opportunities_name_the_field_and_store_nothing(
    client: TestClient, application: SalesApplication, body: dict[str, Any], field: str
) -> None:
    assert field_of(assert_problem(post(client, "/opportunities", body), 422)) == [field]
    assert stored(application) == 0


@pytest.mark.parametrize("field", ["name", "amount", "currency", "probability", "owner"])
def test_an_opportunity_s_required_details_cannot_be_patched_to_null(
    client: TestClient, application: SalesApplication, field: str
) -> None:
    path = f"/opportunities/{opportunity(client)['id']}"
    before = stored(application)

    response = client.patch(path, json={field: None}, headers={**WRITE, **key()})

    assert field_of(assert_problem(response, 422)) == [f"body.{field}"]
    assert stored(application) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XXX"}, "body.currency"),
        ({"currency": "BTC"}, "body.currency"),
        ({"expected_close_date": "9999-12-31"}, "body.expected_close_date"),
        ({"amount": "1e400"}, "body.amount"),
    ],
)
def test_an_opportunity_s_details_change_only_to_sane_values(
    client: TestClient, application: SalesApplication, changes: dict[str, Any], field: str
) -> None:
    path = f"/opportunities/{opportunity(client)['id']}"
    before = stored(application)

    assert field_of(
        assert_problem(client.patch(path, json=changes, headers={**WRITE, **key()}), 422)
    ) == [field]
    assert field_of(assert_problem(post(client, "/opportunities", {**DEAL, **changes}), 422)) == [
        field
    ]
    assert stored(application) == before


def test_an_opportunity_embeds_its_first_stage_changes_and_pages_the_rest(
    client: TestClient,
) -> None:
    path = f"/opportunities/{opportunity(client)['id']}"
    for n in range(EMBEDDED_LIMIT + 1):
        stage = "proposal" if n % 2 == 0 else "negotiation"
        assert post(client, f"{path}/stage", {"stage_id": stage}).status_code == 200

    shown = client.get(path, headers=READ).json()
    rest = client.get(shown["history_next"], headers=READ).json()
    first = client.get(f"{path}/history", params={"limit": 1}, headers=READ).json()

    changes = shown["history"] + rest["items"]
    assert len(shown["history"]) == EMBEDDED_LIMIT and rest["next_cursor"] is None
    assert [c["to_stage_id"] for c in changes][:3] == ["prospecting", "proposal", "negotiation"]
    assert len(changes) == EMBEDDED_LIMIT + 2 and first["items"] == changes[:1]
    bad = client.get(f"{path}/history", params={"cursor": "x"}, headers=READ)
    assert field_of(assert_problem(bad, 422)) == ["query.cursor"]


def test_opportunity_refusals(client: TestClient, application: SalesApplication) -> None:
    created = opportunity(client)
    path = f"/opportunities/{created['id']}"
    before = stored(application)

    assert_problem(post(client, "/opportunities", {**DEAL, "pipeline_id": str(uuid4())}), 404)
    assert_problem(post(client, f"/opportunities/{uuid4()}/win", {}), 404)
    assert field_of(assert_problem(post(client, f"{path}/lose", {"reason": "luck"}), 422)) == [
        "body.reason"
    ]
    assert field_of(assert_problem(post(client, f"{path}/stage", {"stage_id": "lost"}), 422)) == [
        "body.stage_id"
    ]
    assert_problem(
        post(client, f"{path}/stage", {"stage_id": "proposal"}, **{"If-Match": 'W/"9"'}), 409
    )
    assert stored(application) == before


# --- configuration: pipelines and scoring rules ---------------------------------------------------


@pytest.mark.parametrize(
    ("stages", "field"),
    [
        (STAGES[:1] + STAGES[2:], "body.stages"),
        ([{**STAGES[0], "probability": 120}, *STAGES[1:]], "body.stages.0.probability"),
        ([STAGES[0], {**STAGES[1], "probability": 90}, STAGES[2]], "body.stages.1.probability"),
        ([{**STAGES[0], "stage_id": "Demo Stage"}, *STAGES[1:]], "body.stages.0.stage_id"),
        ([{**STAGES[0], "kind": "paused"}, *STAGES[1:]], "body.stages.0.kind"),
        ([], "body.stages"),
    ],
)
def test_invalid_pipelines_name_the_field(
    client: TestClient, application: SalesApplication, stages: list[Any], field: str
) -> None:
    response = post(client, "/pipelines", {"name": "Partners", "stages": stages}, auth=ADMIN)
    assert field_of(assert_problem(response, 422)) == [field]
    assert stored(application) == 0


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"points": 0}, "body.rules.0.points"),
        ({"points": 500}, "body.rules.0.points"),
        ({"kind": "astrology"}, "body.rules.0.kind"),
        ({"attribute": "mood"}, "body.rules.0.attribute"),
        ({"values": []}, "body.rules.0.values"),
        ({"rule_id": "No Spaces"}, "body.rules.0.rule_id"),
    ],
)
def test_invalid_scoring_rules_name_the_field(
    client: TestClient, application: SalesApplication, rule: dict[str, Any], field: str
) -> None:
    valid = {
        "rule_id": "r",
        "kind": "attribute_in",
        "points": 5,
        "explanation": "E",
        "attribute": "country",
        "values": ["DE"],
    }
    response = client.put(
        "/scoring/rules", json={"rules": [{**valid, **rule}]}, headers={**ADMIN, **key()}
    )
    assert field_of(assert_problem(response, 422)) == [field]
    assert stored(application) == 0
