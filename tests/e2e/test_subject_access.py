"""End to end: a person asks for everything the business holds about them (GDPR art. 15).

A person known to every service (registered in contacts; a deal and a call about them in sales; a
ticket of theirs in the service desk; a profile in marketing and a 360 in analytics, both fed by
contacts' events) asks for their data. Contacts publishes the request; each service answers with
its part on its own topic; ``GET /customers/{id}/subject-access/{request_id}`` shows the services
answering, then one export naming every service that answered, each part holding the person's
records. Once the person is erased, a new request is answered by every service with nothing, and
the answers stored for the first one read as nothing too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from crm_platform.testing import ServiceProcess, eventually, free_port
from tests.e2e.drills import created, marketing_holds, scoped_client

pytestmark = pytest.mark.e2e

ANSWERING = ["sales", "marketing", "service-desk", "analytics"]
NOTHING_HELD: dict[str, Any] = {service: {} for service in ANSWERING}
# New consumer groups read the shared topics from their start: other runs' events first.
PATIENCE = 240  # seconds
APIS = ("crm-contacts-api", "crm-sales-api", "crm-service-desk-api")
OTHERS = (
    "crm-contacts-worker",
    "crm-contacts-relay",
    "crm-sales-relay",
    "crm-sales-worker",
    "crm-marketing-relay",
    "crm-marketing-worker",
    "crm-service-desk-relay",
    "crm-service-desk-worker",
    "crm-analytics-worker",
)


@pytest.fixture(scope="module")
def platform(
    platform_env: dict[str, str], fresh_database: Callable[[str], str], tmp_path_factory: Any
) -> Iterator[dict[str, Any]]:
    """Every service a person's data reaches, on a database, consumer groups and a MongoDB
    database of their own."""
    env = platform_env | {
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_subject_access"),
        "CRM_KAFKA_GROUP_PREFIX": f"e2e-access-{uuid.uuid4().hex[:8]}.",
        "CRM_MONGODB_DATABASE": f"e2e_access_{uuid.uuid4().hex[:8]}",
        "CRM_SERVICE_DESK_SMTP_PORT": str(free_port()),
        "CRM_METRICS_PORT": "0",
    }
    logs: Path = tmp_path_factory.mktemp("subject-access-logs")
    started: dict[str, ServiceProcess] = {}
    try:
        for name in APIS:
            port = free_port()
            http = {"CRM_HTTP_HOST": "127.0.0.1", "CRM_HTTP_PORT": str(port)}
            started[name] = api = ServiceProcess(name, env | http, logs).start()
            api.port = port
            api.wait_ready(timeout=240)  # a dozen processes start on a few cores
        for name in OTHERS:
            started[name] = ServiceProcess(name, env, logs).start()
        yield {"env": env, **started}
    finally:
        for process in started.values():
            process.stop()


def _analytics_shows(env: dict[str, str], customer_id: str) -> bool:
    """The person's 360 document holds their profile (the timeline may fill in before it)."""
    client: MongoClient[dict[str, Any]] = MongoClient(env["CRM_MONGODB_URI"])
    try:
        database = client[env["CRM_MONGODB_DATABASE"]]
        return any(
            database[name].find_one({"_id": customer_id, "profile": {"$ne": None}})
            for name in database.list_collection_names()
            if name.startswith("customer_360__customers")
        )
    finally:
        client.close()


def _ask(contacts: httpx.Client, customer_id: str, key: str) -> httpx.Response:
    response = contacts.post(
        f"/customers/{customer_id}/subject-access", headers={"Idempotency-Key": key}
    )
    assert response.status_code == 202, response.text
    return response


def _assembled(contacts: httpx.Client, location: str) -> dict[str, Any]:
    def complete() -> Any:
        status = contacts.get(location).json()
        return status if status["state"] == "complete" else None

    found: dict[str, Any] = eventually(complete, what="every service's answer", within=PATIENCE)
    return found


def test_every_service_answers_with_its_part_of_one_export(platform: dict[str, Any]) -> None:
    env = platform["env"]
    contacts = scoped_client(
        platform["crm-contacts-api"], "contacts:read", "contacts:write", "contacts:erase"
    )
    sales = scoped_client(platform["crm-sales-api"], "sales:read", "sales:write")
    desk = scoped_client(
        platform["crm-service-desk-api"], "service-desk:read", "service-desk:write"
    )

    person = created(
        contacts,
        "/customers",
        {
            "given_name": "Ada",
            "family_name": "Pemberton",
            "emails": [{"address": "ada.pemberton@example.org"}],
        },
    )
    customer_id = person["id"]
    deal = created(
        sales,
        "/opportunities",
        {
            "name": "Pemberton household: solar panels",
            "amount": "12000",
            "currency": "EUR",
            "expected_close_date": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
            "contact_id": customer_id,
        },
    )
    call = created(
        sales,
        "/activities",
        {
            "kind": "call",
            "subject": "Call Ada Pemberton about the roof survey",
            "regarding": {"type": "customer", "id": customer_id},
            "due_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    ticket = created(
        desk,
        "/tickets",
        {"customer_id": customer_id, "subject": "Inverter", "description": "It beeps at night"},
    )
    eventually(
        lambda: marketing_holds(env, customer_id, "%AudienceProfile.DetailsLearned"),
        what="marketing's profile",
        within=PATIENCE,
    )
    eventually(lambda: _analytics_shows(env, customer_id), what="analytics' 360", within=PATIENCE)

    key = str(uuid.uuid4())
    asked = _ask(contacts, customer_id, key)
    request_id, location = asked.json()["request_id"], asked.headers["location"]
    again = _ask(contacts, customer_id, key)  # a retry of the same request
    assert again.json()["request_id"] == request_id
    assert asked.json()["expected"] == ANSWERING

    status = _assembled(contacts, location)

    assert (status["answered"], status["missing"]) == (["contacts", *ANSWERING], [])
    assert {s["service"]: (s["state"], s["held"]) for s in status["services"]} == {
        service: ("answered", True) for service in ANSWERING
    }
    export = status["export"]
    assert export["contacts"]["records"][0]["profile"]["family_name"] == "Pemberton"
    parts = export["services"]
    assert [o["id"] for o in parts["sales"]["opportunity"]] == [deal["id"]]
    assert [(a["id"], a["subject"]) for a in parts["sales"]["activity"]] == [
        (call["id"], "Call Ada Pemberton about the roof survey")
    ]
    assert [(t["id"], t["subject"]) for t in parts["service-desk"]["ticket"]] == [
        (ticket["id"], "Inverter")
    ]
    [profile] = parts["marketing"]["audience_profile"]
    assert (profile["id"], profile["email"]) == (customer_id, "ada.pemberton@example.org")
    [customer_360] = parts["analytics"]["customer_360"]
    assert customer_360["profile"]["family_name"] == "Pemberton"
    assert parts["analytics"]["timeline"], "the person's timeline, opened"

    # Erased, the person is told that nothing is held, and the first answers read as nothing.
    assert contacts.post(f"/customers/{customer_id}/erasure").status_code == 200
    eventually(
        lambda: contacts.get(f"/customers/{customer_id}/erasure").json()["complete"],
        what="every service's erasure",
        within=PATIENCE,
    )
    after = _assembled(contacts, _ask(contacts, customer_id, str(uuid.uuid4())).headers["location"])

    assert {s["service"]: s["held"] for s in after["services"]} == dict.fromkeys(ANSWERING, False)
    assert after["export"]["services"] == NOTHING_HELD
    assert after["export"]["contacts"]["status"] == "erased"

    def first_answers_blind() -> bool:
        first = contacts.get(location).json()["export"]["services"]
        return bool(first == NOTHING_HELD)

    eventually(first_answers_blind, what="the stored answers to go blind", within=PATIENCE)
