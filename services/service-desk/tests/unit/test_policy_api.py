"""Administering the SLA policy: versions, the default from the configuration, tickets keeping
the policy they opened under, and refusals naming the field at fault with no change."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem
from crm_service_desk.application import ServiceDeskApplication

from .test_api import ADMIN, READ, WRITE, key, ticket_body

pytestmark = pytest.mark.unit

NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]
PARIS = {
    "calendar": {
        "time_zone": "Europe/Paris",
        "hours": {day: NINE_TO_FIVE for day in ("mon", "tue", "wed", "thu")},
        "holidays": ["2026-12-25"],
    },
    "targets": {
        "urgent": {"first_response_minutes": 60, "resolution_minutes": 480},
        "high": {"first_response_minutes": 120, "resolution_minutes": 960},
        "normal": {"first_response_minutes": 240, "resolution_minutes": 2400},
        "low": {"first_response_minutes": 480, "resolution_minutes": 4800},
    },
}


def adopt(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.put("/sla-policy", json=body, headers={**ADMIN, **headers})


def first_response_due(client: TestClient) -> str:
    response = client.post(
        "/tickets", json=ticket_body(priority="urgent"), headers={**WRITE, **key()}
    )
    assert response.status_code == 201, response.text
    [due] = [s["due_at"] for s in response.json()["sla"] if s["target"] == "first_response"]
    return due


def test_a_new_policy_applies_to_tickets_opened_after_it(client: TestClient) -> None:
    default = client.get("/sla-policy", headers=READ)
    assert default.status_code == 200 and default.headers["ETag"] == 'W/"0"'
    assert default.json()["version"] == 0 and default.json()["adopted_by"] is None
    assert default.json()["calendar"]["time_zone"] == "UTC"
    before = first_response_due(client)  # Monday 10:00 UTC + 30 minutes

    adopted = adopt(client, PARIS, **{"If-Match": 'W/"0"'})
    assert adopted.status_code == 200, adopted.text
    assert adopted.headers["ETag"] == 'W/"1"'
    assert adopted.json()["version"] == 1 and adopted.json()["adopted_by"] == "bob@crm.local"
    assert adopted.json()["calendar"]["hours"]["fri"] == []
    assert adopted.json()["targets"]["urgent"] == PARIS["targets"]["urgent"]
    again = adopt(client, PARIS)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["version"] == 1

    after = first_response_due(client)  # 11:00 Paris + 60 minutes = 11:00 UTC
    assert datetime.fromisoformat(before) == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert datetime.fromisoformat(after) == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert client.get("/sla-policy", headers=READ).json()["version"] == 1


def test_the_long_day_names_are_still_accepted_and_answered_short(client: TestClient) -> None:
    """Deprecated for one release: ``monday``... as the service desk named days before."""
    long_names = deepcopy(PARIS)
    long_names["calendar"]["hours"] = {
        day: NINE_TO_FIVE for day in ("monday", "tuesday", "wednesday", "thursday")
    }
    adopted = adopt(client, long_names)
    assert adopted.status_code == 200, adopted.text
    hours = adopted.json()["calendar"]["hours"]
    assert list(hours) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert (hours["thu"], hours["fri"]) == (NINE_TO_FIVE, [])
    again = adopt(client, PARIS)  # the same policy, named the one way
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["version"] == 1


def test_a_stale_version_is_a_conflict(client: TestClient) -> None:
    assert adopt(client, PARIS).status_code == 200
    changed = deepcopy(PARIS)
    changed["targets"]["low"]["resolution_minutes"] = 9600
    problem = assert_problem(adopt(client, {**changed, "expected_version": 0}), 409)
    assert problem["current_version"] == 1
    assert (
        client.get("/sla-policy", headers=READ).json()["targets"]["low"]
        == (PARIS["targets"]["low"])
    )


def _with(path: str, value: Any) -> dict[str, Any]:
    body = deepcopy(PARIS)
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with("calendar.time_zone", "Mars/Olympus"), "calendar.time_zone"),
        (
            _with("calendar.hours.tue", [{"start": "12:00", "end": "10:00"}]),
            "calendar.hours.tue",
        ),
        (_with("calendar.hours.mon", [{"start": "9am", "end": "17:00"}]), "calendar.hours"),
        (_with("calendar.hours.monday", NINE_TO_FIVE), "calendar.hours"),  # mon given twice
        (_with("calendar.hours.mondays", NINE_TO_FIVE), "calendar.hours.mondays"),
        (_with("calendar.hours", {}), "calendar.hours"),
        (_with("calendar.holidays", ["2026-02-30"]), "calendar.holidays"),
        (
            _with("targets.high", {"first_response_minutes": 600, "resolution_minutes": 60}),
            "targets.high",
        ),
        (_with("targets.low", None), "targets.low"),
        (_with("targets.normal.first_response_minutes", 0), "targets.normal"),
    ],
)
def test_a_bad_policy_names_its_field_and_changes_nothing(
    client: TestClient, application: ServiceDeskApplication, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(adopt(client, body), 422)
    assert any(e["field"].startswith(f"body.{field}") for e in problem["errors"]), problem
    assert application.sla_policy().version == 0


def test_only_administrators_adopt_policies(client: TestClient) -> None:
    assert_problem(client.put("/sla-policy", json=PARIS, headers=WRITE), 403)
    assert_problem(client.put("/sla-policy", json=PARIS), 401)
    assert client.get("/sla-policy", headers=READ).json()["version"] == 0
