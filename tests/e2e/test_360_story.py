"""End to end: the customer 360 tells the whole story.

A sales rep registers a customer and changes her profile, she grants then withdraws consent, all
over the contacts API; the sales and contacts events about her deal, her order, her account and a
call planned with her are published as their relays would. Her 360 shows each of them, with the
names of her account, deal and product, and the profile change names the field, never its value.
A duplicate record of her (with a call of its own) is merged into her: its history shows on her
timeline, live and as of that moment; the unmerge takes it away again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_platform.testing import eventually

from .test_analytics_360 import Publisher, _client, publish, services, timeline  # noqa: F401

pytestmark = pytest.mark.e2e

PATIENCE = (
    120  # seconds for the worker to catch up (a fresh group reads every topic from the start)
)


def post(client: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    key = {"Idempotency-Key": str(uuid.uuid4()), **headers}
    response = client.post(path, json=body, headers=key)
    assert response.status_code == 201, response.text
    return response.json()


def register(contacts: httpx.Client, email: str) -> str:
    body = {"given_name": "Grace", "family_name": "Hopper", "emails": [{"address": email}]}
    return str(post(contacts, "/customers", body)["id"])


def decide(contacts: httpx.Client, customer: str, status: str, source: str) -> None:
    body = {"channel": "email", "purpose": "marketing", "status": status, "source": source}
    body["decided_at"] = datetime.now(UTC).isoformat()
    post(contacts, f"/customers/{customer}/consents", body)


def entries_until(
    analytics: httpx.Client, customer: str, done: Any, what: str, **params: Any
) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        found = timeline(analytics, customer, **params)
        return found if done(found) else None

    return eventually(check, what=what, within=PATIENCE, interval=1)


def kinds(entries: list[dict[str, Any]]) -> set[str]:
    return {entry["kind"] for entry in entries}


def test_the_360_shows_registration_changes_consents_activities_names_and_merges(
    services,  # noqa: F811 (the fixture imported above)
    token: str,
    platform_env: dict[str, str],
) -> None:
    contacts = _client(services["contacts"].url, token)
    analytics = _client(services["analytics"].url, token)
    tag = uuid.uuid4().hex[:10]
    grace = register(contacts, f"grace.{tag}@example.org")
    changed = contacts.patch(
        f"/customers/{grace}",
        json={"tags": ["vip"]},
        headers={"Idempotency-Key": str(uuid.uuid4()), "If-Match": 'W/"1"'},
    )
    assert changed.status_code == 200, changed.text
    decide(contacts, grace, "granted", "web_form")
    decide(contacts, grace, "withdrawn", "call")

    publisher = Publisher(grace, str(uuid.uuid4()))
    deal = str(uuid.uuid4())
    order = str(uuid.uuid4())
    account = publisher.event("OrganizationRegistered", publisher.organization_id)
    opened = publisher.event("OpportunityOpened", deal, opportunity_id=deal)
    placed = publisher.event("OrderPlaced", order, order_id=order, opportunity_id=deal)
    call = publisher.event(
        "ActivityScheduled",
        activity := str(uuid.uuid4()),
        activity_id=activity,
        kind="call",
        regarding={"type": "customer", "id": grace},
        appointment=None,
        call={"direction": "outbound"},
    )
    bootstrap = platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"]
    publish(bootstrap, [publisher.key_event(), account, opened, placed, call])

    story = {"registration", "profile_change", "consent", "opportunity", "order", "activity"}
    line = placed.data.lines[0]
    wanted = {deal, publisher.organization_id, str(line.product_id)}

    def told(found: list[dict[str, Any]]) -> bool:
        """Every kind of touch, and the names (their own events, read in their own batches)."""
        named = {i for e in found if e["kind"] in ("opportunity", "order") for i in e["names"]}
        return story <= kinds(found) and wanted <= named

    entries = entries_until(analytics, grace, told, "the whole story on the 360, named")
    by_kind = {entry["kind"]: entry for entry in entries}
    assert by_kind["profile_change"]["details"]["changed"] == ["tags"]
    assert by_kind["profile_change"]["personal"] == {} and "vip" not in str(
        by_kind["profile_change"]
    )
    given = {"emails", "family_name", "given_name"}
    assert given <= set(by_kind["registration"]["details"]["changed"])
    assert by_kind["registration"]["personal"] == {}
    consents = [e for e in entries if e["kind"] == "consent"]
    assert sorted((e["type"], e["details"]["source"]) for e in consents) == [
        ("ConsentGranted", "web_form"),
        ("ConsentWithdrawn", "call"),
    ]
    assert {(e["details"]["purpose"], e["channel"]) for e in consents} == {("marketing", "email")}
    assert (by_kind["activity"]["channel"], by_kind["activity"]["details"]["kind"]) == (
        "phone",
        "call",
    )
    names = by_kind["opportunity"]["names"]
    assert names[deal] == opened.data.name
    assert names[publisher.organization_id] == account.data.name
    assert by_kind["order"]["names"][str(line.product_id)] == line.name

    duplicate = register(contacts, f"grace.hopper.{tag}@example.org")
    post(
        contacts,
        f"/customers/{duplicate}/interactions",
        {
            "channel": "phone",
            "direction": "inbound",
            "summary": "Asked about her invoice",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    )
    merge = post(
        contacts,
        f"/customers/{grace}/merges",
        {"duplicate_id": duplicate, "duplicate_expected_version": 2},
        **{"If-Match": 'W/"4"'},
    )

    def theirs(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in found if e["customer_id"] == duplicate]

    merged = entries_until(
        analytics,
        grace,
        lambda found: {"interaction", "registration"} <= kinds(theirs(found)),
        "the duplicate's history on the survivor's timeline",
    )
    merged_moment = datetime.now(UTC)
    assert [e["summary"] for e in theirs(merged) if e["kind"] == "interaction"] == [
        "Asked about her invoice"
    ]
    assert [e["customer_id"] for e in merged if e["kind"] == "merge"] == [grace]

    unmerged = contacts.delete(f"/customers/{grace}/merges/{merge['merge_id']}")
    assert unmerged.status_code == 200, unmerged.text
    entries_until(
        analytics,
        grace,
        lambda found: not theirs(found) and "ContactsUnmerged" in {e["type"] for e in found},
        "the unmerge to take the duplicate's history away",
    )

    # The archive behind as_of is a read model of its own, which may lag the timeline a little.
    then = entries_until(
        analytics,
        grace,
        lambda found: {"interaction", "registration"} <= kinds(theirs(found)),
        "the duplicate's history as of the merged moment",
        as_of=merged_moment.isoformat(),
    )
    assert "ContactsUnmerged" not in {e["type"] for e in then}
