"""End to end, as deployed: one vocabulary and one behaviour across services.

- Weekdays are ``mon``..``sun``: a person's contact hours in contacts, a business calendar in the
  service desk (whose long names, ``monday``..., are still accepted for one release).
- A query parameter an operation does not declare is a 400 problem naming it, in every service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_platform.devtoken import issue_token
from crm_platform.testing import ServiceProcess, free_port
from crm_platform.web.auth import KNOWN_SCOPES

pytestmark = pytest.mark.e2e

NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]
TARGETS = {
    priority: {"first_response_minutes": 60, "resolution_minutes": 480}
    for priority in ("urgent", "high", "normal", "low")
}


@pytest.fixture(scope="module")
def apis(platform_env, fresh_database, tmp_path_factory) -> Iterator[dict[str, httpx.Client]]:
    """Each service's api, with a database of its own as deployed (only the apis answer)."""
    token = issue_token(list(KNOWN_SCOPES), "vocabulary@e2e.example")
    logs = tmp_path_factory.mktemp("vocabulary-logs")
    processes = {
        service: ServiceProcess(
            f"crm-{service}-api",
            {
                **platform_env,
                "CRM_POSTGRES_DATABASE": fresh_database(f"e2e_words_{service.replace('-', '_')}"),
            },
            logs,
            free_port(),
        ).start()
        for service in ("contacts", "sales", "marketing", "service-desk", "analytics")
    }
    auth = {"Authorization": f"Bearer {token}"}
    yield {
        service: httpx.Client(base_url=process.url, headers=auth, timeout=10)
        for service, process in processes.items()
    }
    for process in processes.values():
        process.stop()


def test_weekdays_are_named_alike_in_contacts_and_the_service_desk(
    apis: dict[str, httpx.Client],
) -> None:
    contact_hours = {"days": ["mon", "fri"], "start": "09:00", "end": "12:00", "time_zone": "UTC"}
    person = apis["contacts"].post(
        "/customers",
        json={"family_name": "Weekday", "preferences": {"contact_hours": contact_hours}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert person.status_code == 201, person.text
    assert person.json()["preferences"]["contact_hours"]["days"] == ["mon", "fri"]

    desk = apis["service-desk"]
    hours = {"mon": NINE_TO_FIVE, "fri": NINE_TO_FIVE}
    policy = {"calendar": {"time_zone": "UTC", "hours": hours}, "targets": TARGETS}
    adopted = desk.put("/sla-policy", json=policy)
    assert adopted.status_code == 200, adopted.text
    shown = adopted.json()["calendar"]["hours"]
    assert list(shown) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert (shown["mon"], shown["tue"]) == (NINE_TO_FIVE, [])

    deprecated = {"monday": NINE_TO_FIVE, "friday": NINE_TO_FIVE}  # for one release still
    again = desk.put(
        "/sla-policy", json={**policy, "calendar": {"time_zone": "UTC", "hours": deprecated}}
    )
    assert again.status_code == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"  # the same policy, said the old way
    assert again.json()["calendar"]["hours"] == shown

    twice = {"mon": NINE_TO_FIVE, "monday": NINE_TO_FIVE}
    refused = desk.put(
        "/sla-policy", json={**policy, "calendar": {"time_zone": "UTC", "hours": twice}}
    )
    assert refused.status_code == 422, refused.text
    assert desk.get("/sla-policy").json()["version"] == adopted.json()["version"]


@pytest.mark.parametrize(
    ("service", "path", "declared"),
    [
        ("contacts", "/customers", {"q": "x"}),
        ("sales", "/opportunities", {"limit": "5"}),
        ("marketing", "/admin/quarantine", {"limit": "5"}),
        ("service-desk", "/tickets", {"limit": "5"}),
        ("analytics", "/analytics/sales/pipeline", {}),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it_in_every_service(
    apis: dict[str, httpx.Client], service: str, path: str, declared: dict[str, str]
) -> None:
    api = apis[service]
    accepted = api.get(path, params=declared)
    assert accepted.status_code == 200, accepted.text

    refused = api.get(path, params={**declared, "limt": "5", "sort_by": "name"})

    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = refused.json()
    assert [e["field"] for e in problem["errors"]] == ["query.limt", "query.sort_by"]
    assert "limt" in problem["detail"] and "sort_by" in problem["detail"]
