from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from crm_analytics.api.routes import customer_360_router, organization_router
from crm_analytics.read_models import customer_360 as timeline
from crm_analytics.read_models.event_archive import customer_view, opportunity_documents
from crm_events import Event
from crm_platform.devtoken import issue_token
from crm_platform.privacy import MemoryKeyring
from crm_platform.web.app import create_api
from crm_platform.web.pages import EMBEDDED_LIMIT, encode_cursor

pytestmark = pytest.mark.unit


class FakeReads:
    """The live reads and the archive over in-memory events, through the same pure folds."""

    def __init__(self) -> None:
        self.events: list[Event[Any]] = []
        self.organizations: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def add(self, events) -> None:
        self.events.extend(events)

    def _about(self, customer_id: str, as_of: datetime | None = None) -> list[Event[Any]]:
        return [
            e
            for e in self.events
            if timeline.customer_of(e, {}) == customer_id and (as_of is None or e.time <= as_of)
        ]

    async def get(self, customer_id: str) -> dict[str, Any] | None:
        return customer_view(self._about(customer_id), customer_id)[0]

    async def page(
        self, customer_id: str, *, kind, channel, before, limit, duplicates=()
    ) -> timeline.Page:
        entries = customer_view(self._about(customer_id), customer_id)[1]
        for duplicate in duplicates:  # merges over real MongoDB: integration/test_timeline_story.py
            theirs = customer_view(self._about(duplicate), duplicate)[1]
            entries += [e for e in theirs if e["kind"] != "merge"]
        chosen = [e for e in entries if timeline.matches(e, kind=kind, channel=channel)]
        return timeline.newest_first(chosen, limit=limit, before=before)

    async def lineage(self, customer_id: str) -> dict[str, list[str]]:
        return {}

    async def names_on(self, entries) -> dict[str, str]:
        return {}  # the name table over real MongoDB: integration/test_timeline_story.py

    async def customer(self, customer_id: str, as_of: datetime):
        return customer_view(self._about(customer_id, as_of), customer_id)

    async def documents(self, organization_id: str):
        return self.organizations.get(
            organization_id, {"opportunities": [], "tickets": [], "invoices": []}
        )

    async def opportunities(self, organization_id: str, as_of: datetime):
        return opportunity_documents(self.events)

    async def organization(self, organization_id: str) -> dict[str, Any] | None:
        return None  # organizations registered by contacts: integration/test_organization_360.py

    async def names(self, organization_ids) -> dict[str, str]:
        return {}


@pytest.fixture
def reader() -> FakeReads:
    return FakeReads()


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
async def client(reader, keyring) -> AsyncIterator[httpx.AsyncClient]:
    routers = [customer_360_router(reader, reader, keyring), organization_router(reader, reader)]
    app = create_api(title="t", service="analytics", routers=routers)
    token = issue_token(["analytics:read"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


def contacts_stream(stream, interactions: int):
    customers = stream()
    return customers, [customers.registered()] + [
        customers.contacted() for _ in range(interactions)
    ]


async def test_profile_and_timeline_newest_first(client, reader, keyring, stream):
    customers, events = contacts_stream(stream, 2)
    reader.add(events)
    await keyring.issued(customers.customer_id, customers.key)

    response = await client.get(f"/customers/{customers.customer_id}/360")

    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == str(customers.customer_id)
    assert body["version"] == 3
    assert body["profile"]["given_name"] == "Ada"
    assert body["interaction_count"] == 2
    assert [e["source_event_id"] for e in body["timeline"]] == [
        str(events[2].id),
        str(events[1].id),
        str(events[0].id),  # the registration
    ]
    registration = body["timeline"][-1]
    assert (registration["kind"], registration["personal"]) == ("registration", {})
    assert registration["details"]["changed"] == [
        "emails",
        "family_name",
        "given_name",
        "phones",
        "tags",
    ]
    first = body["timeline"][0]
    assert first["id"] == str(events[2].data.interaction_id)
    assert (first["subject"], first["summary"]) == (None, "message 3")
    assert (first["kind"], first["type"], first["channel"]) == (
        "interaction",
        "CustomerContacted",
        "email",
    )
    assert first["details"]["direction"] == "inbound" and first["details"]["actor"] == "bob"
    assert first["personal"] == {"summary": "message 3"}
    assert first["occurred_at"] == events[2].data.occurred_at.isoformat().replace("+00:00", "Z")
    assert (first["actor"], first["source"]) == ("alice", "/crm/contacts")
    assert body["next_cursor"] is None


async def test_profile_changes_and_consents_in_force_are_shown(client, reader, keyring, stream):
    customers = stream()
    reader.add(
        [
            customers.registered(),
            customers.consent(True),
            customers.profile_updated(family_name="King", tags=["patron"]),
            customers.consent(False),
        ]
    )
    await keyring.issued(customers.customer_id, customers.key)

    body = (await client.get(f"/customers/{customers.customer_id}/360")).json()

    assert (body["profile"]["given_name"], body["profile"]["family_name"]) == ("Ada", "King")
    assert body["profile"]["tags"] == ["patron"]
    assert body["profile"]["emails"][0]["address"] == "ada@example.com"
    assert [(c["channel"], c["purpose"], c["granted"]) for c in body["consents"]] == [
        ("email", "marketing", False)
    ]


async def test_without_the_key_personal_data_is_not_shown(client, reader, keyring, stream):
    customers, events = contacts_stream(stream, 1)
    reader.add(events)
    url = f"/customers/{customers.customer_id}/360"

    before_key = (await client.get(url)).json()  # the key topic has not caught up yet
    await keyring.issued(customers.customer_id, customers.key)
    await keyring.destroyed(customers.customer_id)  # erased: the key is gone for good
    after_erasure = (await client.get(url)).json()

    for body in (before_key, after_erasure):
        assert body["profile"]["given_name"] is None and body["profile"]["emails"] is None
        assert body["timeline"][0]["personal"]["summary"] is None
        assert body["timeline"][0]["channel"] == "email"  # non-personal facts remain


async def test_an_erased_customer_has_no_profile_at_all(client, reader, stream):
    customers, events = contacts_stream(stream, 1)
    reader.add([*events, customers.erased()])

    body = (await client.get(f"/customers/{customers.customer_id}/360")).json()

    assert body["profile"] is None and body["erased_at"] is not None
    assert body["interaction_count"] == 1


async def test_cursor_pagination_walks_the_whole_timeline(client, reader, stream):
    customers, events = contacts_stream(stream, 5)
    reader.add(events)
    url = f"/customers/{customers.customer_id}/360"

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=params)
        body = response.json()
        assert len(body["timeline"]) <= 2
        seen += [entry["source_event_id"] for entry in body["timeline"]]
        if not (cursor := body["next_cursor"]):
            assert "Link" not in response.headers
            break
        assert response.links["next"]["url"].endswith(f"cursor={cursor}")

    assert seen == [str(event.id) for event in reversed(events)]


async def test_unknown_customer_is_a_404_problem(client):
    response = await client.get(f"/customers/{uuid4()}/360")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        b64("{}"),
        b64('["x"]'),
        b64('["yesterday", "id"]'),
        b64("[1, 2]"),
        b64("[" * 5000 + "]" * 5000),
        b64('["2024-01-01T00:00:00+00:00", "a\\u0000b"]'),
    ],
)
async def test_a_foreign_cursor_is_a_422_problem(client, reader, stream, cursor):
    customers, events = contacts_stream(stream, 1)
    reader.add(events)

    response = await client.get(
        f"/customers/{customers.customer_id}/360", params={"cursor": cursor}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


async def test_a_naive_time_in_a_cursor_is_rejected(client, reader, stream):
    customers, events = contacts_stream(stream, 1)
    reader.add(events)
    naive = events[1].data.occurred_at.replace(tzinfo=None).isoformat()

    response = await client.get(
        f"/customers/{customers.customer_id}/360", params={"cursor": encode_cursor([naive, "x"])}
    )

    assert response.status_code == 422


@pytest.mark.parametrize("limit", [0, 201, "many"])
async def test_limit_is_bounded(client, limit):
    response = await client.get(f"/customers/{uuid4()}/360", params={"limit": limit})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"


async def test_the_read_scope_is_required(client):
    url = f"/customers/{uuid4()}/360"
    anonymous = await client.get(url, headers={"Authorization": ""})
    other = await client.get(
        url, headers={"Authorization": f"Bearer {issue_token(['contacts:read'])}"}
    )

    assert anonymous.status_code == 401
    assert other.status_code == 403


async def test_openapi_documents_the_response_and_problems(client):
    spec = json.loads((await client.get("/openapi.json")).text)

    operation = spec["paths"]["/customers/{customer_id}/360"]["get"]
    assert operation["operationId"] == "getCustomer360"
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
    assert "Customer360" in spec["components"]["schemas"]


async def test_as_of_folds_the_events_published_until_then(client, reader, keyring, stream):
    customers, events = contacts_stream(stream, 3)
    reader.add(events)
    await keyring.issued(customers.customer_id, customers.key)
    url = f"/customers/{customers.customer_id}/360"

    then = (await client.get(url, params={"as_of": events[2].time.isoformat()})).json()
    now = (await client.get(url)).json()

    assert (then["version"], then["interaction_count"]) == (3, 2)
    assert [e["source_event_id"] for e in then["timeline"]] == [
        str(events[2].id),
        str(events[1].id),
        str(events[0].id),
    ]
    assert (now["version"], now["interaction_count"]) == (4, 3)


async def test_timeline_filters_by_kind_and_channel(client, reader, stream):
    customers = stream()
    events = [customers.registered(), customers.contacted(), customers.contacted(channel="phone")]
    reader.add(events)
    url = f"/customers/{customers.customer_id}/timeline"

    phone = (await client.get(url, params={"channel": "phone"})).json()
    tickets = (await client.get(url, params={"kind": "ticket"})).json()

    assert [e["source_event_id"] for e in phone["entries"]] == [str(events[2].id)]
    assert tickets["entries"] == [] and tickets["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({"as_of": "2025-03-01T10:00:00"}, "query.as_of"), ({"kind": "gossip"}, "query.kind")],
)
async def test_a_naive_instant_or_an_unknown_kind_is_a_422(client, params, field):
    response = await client.get(f"/customers/{uuid4()}/timeline", params=params)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1800-01-01T00:00:00Z"]
)
@pytest.mark.parametrize(
    "path", ["/customers/{id}/360", "/customers/{id}/timeline", "/organizations/{id}/pipeline"]
)
async def test_an_instant_out_of_range_is_a_422_not_an_overflow(
    client, reader, stream, path, as_of
):
    customers, events = contacts_stream(stream, 1)
    reader.add(events)

    url = path.format(id=customers.customer_id)
    response = await client.get(url, params={"as_of": as_of})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["query.as_of"]


async def test_a_cursor_at_an_instant_out_of_range_is_rejected(client, reader, stream):
    customers, events = contacts_stream(stream, 1)
    reader.add(events)
    extreme = b64('["0001-01-01T00:00:00+14:00", "x"]')

    response = await client.get(
        f"/customers/{customers.customer_id}/360", params={"cursor": extreme}
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


async def test_an_organization_360_shows_the_first_page_of_each_list_and_links_the_rest(
    client, reader
):
    organization_id, count = str(uuid4()), EMBEDDED_LIMIT + 2
    deals = [
        {"_id": str(uuid4()), "status": "open", "amount": "10", "currency": "EUR"}
        for _ in range(count)
    ]
    tickets = [
        {"_id": str(uuid4()), "status": "open", "customer_id": str(uuid4())} for _ in range(3)
    ]
    reader.organizations[organization_id] = {
        "opportunities": deals,
        "tickets": tickets,
        "invoices": [],
    }

    shown = (await client.get(f"/organizations/{organization_id}/360")).json()
    rest = (await client.get(shown["open_deals_next"])).json()
    first = await client.get(f"/organizations/{organization_id}/people", params={"limit": 2})
    people = first.json()
    others = (await client.get(first.links["next"]["url"])).json()

    ids = [d["opportunity_id"] for d in shown["open_deals"] + rest["items"]]
    assert ids == sorted(d["_id"] for d in deals) and rest["next_cursor"] is None
    assert (shown["open_tickets_next"], shown["people_next"]) == (None, None)
    assert people["items"] + others["items"] == sorted(t["customer_id"] for t in tickets)
    bad = await client.get(f"/organizations/{organization_id}/open-deals", params={"cursor": "x"})
    assert bad.status_code == 422
    assert (await client.get(f"/organizations/{uuid4()}/open-tickets")).status_code == 404
