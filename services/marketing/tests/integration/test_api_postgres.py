"""The staff API over the application on the real PostgreSQL: launches read the audience index."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_marketing.application import MarketingApplication
from crm_marketing.bootstrap import build_api
from crm_platform.web.testing import assert_problem

from ..unit.test_api import CONTENT, SECRET, SUBJECT, WRITE, campaign, key, post, segment

pytestmark = pytest.mark.integration


@pytest.fixture
def client(
    application: MarketingApplication, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("CRM_MARKETING_TRACKING_SECRET", SECRET)
    with TestClient(build_api(application)) as test_client:
        yield test_client


def test_campaign_commands(client: TestClient) -> None:
    seg = segment(client)
    assert_problem(
        post(
            client,
            "/campaigns",
            {"name": "x", "channel": "email", "segment_ids": [str(uuid4())], "content": CONTENT},
        ),
        404,
    )
    broken = post(
        client,
        "/campaigns",
        {
            "name": "x",
            "channel": "email",
            "segment_ids": [seg["id"]],
            "content": {**CONTENT, "html": "{{ oops"},
        },
    )
    assert assert_problem(broken, 422)["errors"][0]["field"].split(".") == [
        "body",
        "content",
        "html",
    ]
    no_content = post(
        client, "/campaigns", {"name": "x", "channel": "email", "segment_ids": [seg["id"]]}
    )
    assert assert_problem(no_content, 422)["errors"][0]["field"].split(".") == ["body", "content"]

    created = campaign(client, seg["id"])
    cid = created["id"]
    assert created["status"] == "draft"
    stale = post(
        client,
        f"/campaigns/{cid}/schedule",
        {"launch_at": "2099-01-01T00:00:00Z"},
        **{"If-Match": 'W/"7"'},
    )
    assert assert_problem(stale, 409)["current_version"] == 1
    past = post(client, f"/campaigns/{cid}/schedule", {"launch_at": "2001-01-01T00:00:00Z"})
    assert assert_problem(past, 422)["errors"][0]["field"].split(".") == ["body", "launch_at"]
    naive = post(client, f"/campaigns/{cid}/schedule", {"launch_at": "2099-01-01T00:00:00"})
    assert_problem(naive, 422)
    for far in ("9999-12-31T23:59:59-14:00", "2300-01-01T00:00:00Z"):
        too_far = post(client, f"/campaigns/{cid}/schedule", {"launch_at": far})
        assert assert_problem(too_far, 422)["errors"][0]["field"] == "body.launch_at"
    assert client.get(f"/campaigns/{cid}", headers=WRITE).json()["version"] == 1  # unchanged

    headers = {**WRITE, **key()}
    scheduled = client.post(
        f"/campaigns/{cid}/schedule", json={"launch_at": "2099-01-01T00:00:00Z"}, headers=headers
    )
    replay = client.post(
        f"/campaigns/{cid}/schedule", json={"launch_at": "2099-01-01T00:00:00Z"}, headers=headers
    )
    assert (
        scheduled.json()["status"] == "scheduled"
        and replay.headers["Idempotent-Replayed"] == "true"
    )
    launched = post(client, f"/campaigns/{cid}/launch", {}).json()
    assert (launched["status"], launched["audience_size"]) == ("completed", 0)  # nobody to reach
    assert_problem(post(client, f"/campaigns/{cid}/cancel", {"reason": "late"}), 409)


def test_telemarketing_call_lists(
    client: TestClient, application: MarketingApplication, feed
) -> None:
    seg = segment(client)
    customer = feed.register()
    feed.consent(customer, channel="phone")
    created = campaign(client, seg["id"], channel="telemarketing", content=None, agents=[SUBJECT])
    post(client, f"/campaigns/{created['id']}/launch", {})
    calls = client.get(
        f"/campaigns/{created['id']}/calls", params={"agent": SUBJECT}, headers=WRITE
    ).json()
    assert calls == [{"customer_id": str(customer), "agent": SUBJECT, "outcome": None}]
    bad = client.put(
        f"/campaigns/{created['id']}/calls/{uuid4()}",
        json={"outcome": "interested"},
        headers={**WRITE, **key()},
    )
    assert assert_problem(bad, 422)["errors"][0]["field"].split(".") == ["body", "customer_id"]
    done = client.put(
        f"/campaigns/{created['id']}/calls/{customer}",
        json={"outcome": "do_not_call"},
        headers={**WRITE, **key()},
    )
    assert done.json()["status"] == "completed"
    assert client.get(f"/audience/{customer}", headers=WRITE).json()["unsubscribed"] == ["phone"]


def test_call_lists_are_paged_and_link_the_next_page(
    client: TestClient, application: MarketingApplication, feed
) -> None:
    seg = segment(client)
    customers = sorted(str(feed.register()) for _ in range(3))
    for customer in customers:
        feed.consent(UUID(customer), channel="phone")
    created = campaign(client, seg["id"], channel="telemarketing", content=None, agents=[SUBJECT])
    post(client, f"/campaigns/{created['id']}/launch", {})

    first = client.get(f"/campaigns/{created['id']}/calls", params={"limit": 2}, headers=WRITE)
    url, rel = first.headers["Link"].split("; ")
    rest = client.get(url.strip("<>"), headers=WRITE)

    assert rel == 'rel="next"' and "Link" not in rest.headers
    assert [c["customer_id"] for c in first.json() + rest.json()] == customers
    bad = client.get(f"/campaigns/{created['id']}/calls", params={"cursor": "x"}, headers=WRITE)
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["query.cursor"]
