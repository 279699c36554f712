"""The public web-to-lead endpoint: what it accepts, and how it defends itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem, counting_in_memory
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC
from crm_sales.pipeline.domain.leads import LeadSource

pytestmark = pytest.mark.unit

FORM = {
    "given_name": "Grace",
    "family_name": "Hopper",
    "email": "grace@example.com",
    "company": "Compilers & Co",
    "country": "us",
    "utm_source": "newsletter",
}
URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CRM_PUBLIC_FORM_LIMIT", "3")
    monkeypatch.setenv("CRM_WEB_TO_LEAD_MAX_BODY_BYTES", "2048")
    with TestClient(counting_in_memory(SPEC.build_api(application))) as test_client:
        yield test_client


def leads(application: SalesApplication) -> list[Any]:
    """The leads captured, as the store holds them (lists read an index kept on PostgreSQL)."""
    notifications = application.recorder.select_notifications(start=1, limit=1000)
    captured = [n.originator_id for n in notifications if n.topic.endswith(":Lead.Captured")]
    return [application.get_lead(lead_id) for lead_id in captured]


def submit(client: TestClient, body: Any = None, **headers: str) -> Any:
    return client.post("/web-to-lead", json=FORM if body is None else body, headers=headers)


def test_a_json_form_becomes_a_scored_web_lead_without_an_owner(
    client: TestClient, application: SalesApplication
) -> None:
    response = submit(client)

    assert (response.status_code, response.json()) == (202, {"status": "accepted"})
    (lead,) = leads(application)
    assert (lead.source, lead.owner, lead.email, lead.country) == (
        LeadSource.WEB_FORM,
        None,
        "grace@example.com",
        "US",
    )
    assert lead.fields == {"utm_source": "newsletter"}
    assert [r.rule_id for r in lead.reasons] == ["web-form", "has-email"]


def test_an_html_form_post_is_accepted_with_empty_fields_left_out(
    client: TestClient, application: SalesApplication
) -> None:
    body = urlencode({**FORM, "phone": "", "leave_this_empty": ""})

    response = client.post("/web-to-lead", content=body, headers=URLENCODED)

    assert response.status_code == 202
    (lead,) = leads(application)
    assert (lead.family_name, lead.phone) == ("Hopper", None)


def test_a_filled_honeypot_is_accepted_and_dropped(
    client: TestClient, application: SalesApplication
) -> None:
    response = submit(client, {**FORM, "leave_this_empty": "http://spam.example"})

    assert response.status_code == 202
    assert application.recorder.max_notification_id() in (None, 0)


def test_the_former_honeypot_autofilled_by_browsers_no_longer_drops_a_person(
    client: TestClient, application: SalesApplication
) -> None:
    response = submit(client, {**FORM, "url": "https://grace.example"})

    assert response.status_code == 202
    assert len(leads(application)) == 1


def test_an_idempotency_key_makes_resubmissions_safe(
    client: TestClient, application: SalesApplication
) -> None:
    key = {"Idempotency-Key": "form-7f3a9c2e"}
    assert submit(client, **key).status_code == submit(client, **key).status_code == 202
    assert len(leads(application)) == 1
    problem = assert_problem(submit(client, **{"Idempotency-Key": "short"}), 422)
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**FORM, "family_name": ""}, "body.family_name"),
        ({key: value for key, value in FORM.items() if key != "family_name"}, "body.family_name"),
        ({**FORM, "email": "grace"}, "body.email"),
        ({**FORM, "email": None}, "body.email"),
        ({**FORM, "company_size": "many"}, "body.company_size"),
        ({**FORM, "campaign_id": "spring"}, "body.campaign_id"),
        ({**FORM, "owner": "mallory"}, "body.owner"),
    ],
)
def test_strict_validation_names_the_field_and_captures_nothing(
    client: TestClient, application: SalesApplication, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(submit(client, body), 422)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert application.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b"family_name=A&family_name=B", URLENCODED, 400),
        (b"\xff\xfe", URLENCODED, 400),
        (b"<lead/>", {"Content-Type": "application/xml"}, 415),
        (b"x" * 4096, {"Content-Type": "application/json"}, 413),
    ],
)
def test_undecodable_or_oversized_bodies_are_refused(
    client: TestClient, content: bytes, headers: dict[str, str], status: int
) -> None:
    assert_problem(client.post("/web-to-lead", content=content, headers=headers), status)


def test_a_streamed_body_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"family_name": "'
        for _ in range(100):
            yield b"x" * 100

    response = client.post(
        "/web-to-lead", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


def test_each_client_gets_a_burst_then_is_told_when_to_retry(client: TestClient) -> None:
    answers = [submit(client, {**FORM, "email": f"g{i}@example.com"}) for i in range(4)]

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
