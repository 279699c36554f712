"""End to end: an erasure that provably completes.

A person known to every service (registered in contacts; a call about them in sales; a ticket of
theirs in the service desk; a profile in marketing and their key and 360 in analytics, both fed by
contacts' events) is erased. Each service erases its part and confirms it on its own topic, through
its outbox; contacts records the confirmations, and ``GET /customers/{id}/erasure`` turns
complete with every service listed, while the call's and the ticket's text read as nothing.
"""

from __future__ import annotations

import re
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

SERVICES = ["contacts", "sales", "marketing", "service-desk", "analytics"]
ERASED_KINDS = {
    "contacts": {"person"},
    "sales": {"lead", "activity"},
    "marketing": {"audience_profile", "segment_membership"},
    "service-desk": {"ticket"},
    "analytics": {"read_models"},
}
# New consumer groups read the shared topics from their start: other runs' events first.
PATIENCE = 240  # seconds
APIS = ("crm-contacts-api", "crm-sales-api", "crm-service-desk-api")
OTHERS = (
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
    database of their own; only the contacts worker serves its metrics."""
    env = platform_env | {
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_erasure"),
        "CRM_KAFKA_GROUP_PREFIX": f"e2e-erasure-{uuid.uuid4().hex[:8]}.",
        "CRM_MONGODB_DATABASE": f"e2e_erasure_{uuid.uuid4().hex[:8]}",
        "CRM_SERVICE_DESK_SMTP_PORT": str(free_port()),
        "CRM_METRICS_PORT": "0",
    }
    metrics_port = free_port()
    worker_env = env | {
        "CRM_METRICS_PORT": str(metrics_port),
        "CRM_CONTACTS_ERASURE_REFRESH_SECONDS": "0.5",
    }
    logs: Path = tmp_path_factory.mktemp("erasure-logs")
    started: dict[str, ServiceProcess] = {}
    try:
        for name in APIS:
            port = free_port()
            http = {"CRM_HTTP_HOST": "127.0.0.1", "CRM_HTTP_PORT": str(port)}
            started[name] = api = ServiceProcess(name, env | http, logs).start()
            # Waited for longer than usual: a dozen processes start on a few cores.
            api.port = port
            api.wait_ready(timeout=240)
        started["crm-contacts-worker"] = ServiceProcess("crm-contacts-worker", worker_env, logs)
        started |= {name: ServiceProcess(name, env, logs) for name in OTHERS}
        for name in ("crm-contacts-worker", *OTHERS):
            started[name].start()
        yield {"env": env, "metrics": f"http://127.0.0.1:{metrics_port}/metrics", **started}
    finally:
        for process in started.values():
            process.stop()


def _analytics_knows(env: dict[str, str], customer_id: str) -> bool:
    """Its keyring holds the person's key, and the customer 360 shows them."""
    client: MongoClient[dict[str, Any]] = MongoClient(env["CRM_MONGODB_URI"])
    try:
        database = client[env["CRM_MONGODB_DATABASE"]]
        keyed = database["personal_data_keys"].find_one({"_id": customer_id, "key": {"$ne": None}})
        shown = any(
            database[name].find_one({"customer_id": customer_id})
            for name in database.list_collection_names()
            if name.startswith("customer_360")
        )
    finally:
        client.close()
    return keyed is not None and shown


def _gauge(metrics: str, name: str) -> float | None:
    try:
        text = httpx.get(metrics, timeout=5).text
    except httpx.HTTPError:
        return None
    found = re.search(rf'^{name}{{service="contacts"}} (\S+)$', text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_an_erasure_turns_complete_once_every_service_confirmed(platform: dict[str, Any]) -> None:
    env = platform["env"]
    contacts = scoped_client(
        platform["crm-contacts-api"], "contacts:read", "contacts:write", "contacts:erase"
    )
    sales = scoped_client(platform["crm-sales-api"], "sales:read", "sales:write")
    desk = scoped_client(
        platform["crm-service-desk-api"], "service-desk:read", "service-desk:write"
    )

    person = created(contacts, "/customers", {"given_name": "Ada", "family_name": "Quintrell"})
    customer_id = person["id"]
    call = created(
        sales,
        "/activities",
        {
            "kind": "call",
            "subject": "Call Ada Quintrell about the renewal",
            "regarding": {"type": "customer", "id": customer_id},
            "due_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    ticket = created(
        desk,
        "/tickets",
        {"customer_id": customer_id, "subject": "Printer", "description": "Ada's printer jams"},
    )
    eventually(
        lambda: marketing_holds(env, customer_id), what="marketing's profile", within=PATIENCE
    )
    eventually(
        lambda: _analytics_knows(env, customer_id), what="analytics' key and 360", within=PATIENCE
    )
    assert contacts.get(f"/customers/{customer_id}/erasure").status_code == 404, "not erased yet"

    erasure = contacts.post(f"/customers/{customer_id}/erasure")
    assert erasure.status_code == 200, erasure.text

    def complete() -> Any:
        status = contacts.get(f"/customers/{customer_id}/erasure").json()
        return status if status["complete"] else None

    status = eventually(complete, what="every service's confirmation", within=PATIENCE)
    requested_at = datetime.fromisoformat(status["requested_at"])
    assert requested_at == datetime.fromisoformat(erasure.json()["erased_at"])
    assert [s["service"] for s in status["services"]] == SERVICES
    confirmed_at = {
        s["service"]: datetime.fromisoformat(s["confirmed_at"]) for s in status["services"]
    }
    assert all(s["state"] == "confirmed" and s["expected"] for s in status["services"])
    assert all(at >= requested_at for at in confirmed_at.values())
    assert datetime.fromisoformat(status["completed_at"]) == max(confirmed_at.values())
    assert {
        s["service"]: {e["kind"] for e in s["erased"]} for s in status["services"]
    } == ERASED_KINDS
    assert status["overdue"] is False

    assert sales.get(f"/activities/{call['id']}").json()["subject"] is None
    erased_ticket = desk.get(f"/tickets/{ticket['id']}").json()
    assert (erased_ticket["subject"], erased_ticket["description"]) == (None, None)

    def gauges_settled() -> bool:
        pending = _gauge(platform["metrics"], "crm_erasures_pending")
        overdue = _gauge(platform["metrics"], "crm_erasures_overdue")
        return (pending, overdue) == (0, 0)

    eventually(gauges_settled, what="the contacts worker's gauges to show nothing pending")
