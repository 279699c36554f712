from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.bootstrap import build_api
from crm_marketing.domain import AutomatedSend, CampaignResponse, send_id
from crm_platform.devtoken import issue_token
from crm_platform.web.pages import EMBEDDED_LIMIT
from crm_platform.web.testing import assert_problem, counting_in_memory

from .test_automation import deliver_at, won

pytestmark = pytest.mark.unit

SECRET = "t" * 40
SIGNER = TokenSigner(SECRET.encode())
SUBJECT = "mia@example.org"
WRITE = {"Authorization": f"Bearer {issue_token(['marketing:write', 'marketing:read'], SUBJECT)}"}
EMEA = {"all": [{"attribute": "region", "operator": "equals", "value": "emea"}]}
CONTENT = {
    "subject": "Hello {{ given_name }}",
    "html": "<p>Hi {{ given_name }} <a href=\"{{ link('offer') }}\">offer</a></p>",
    "text": "Hi {{ given_name }} {{ link('offer') }}",
    "links": {"offer": "https://shop.example/offer"},
    "offer_links": ["offer"],
}


@pytest.fixture
def client(
    application: MarketingApplication, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("CRM_MARKETING_TRACKING_SECRET", SECRET)
    with TestClient(counting_in_memory(build_api(application))) as test_client:
        yield test_client


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid4())}


def post(client: TestClient, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, json=body, headers={**WRITE, **key(), **headers})


def segment(client: TestClient, rule: Any = EMEA) -> dict[str, Any]:
    response = post(client, "/segments", {"name": "EMEA", "rule": rule})
    assert response.status_code == 201, response.text
    return response.json()


def campaign(client: TestClient, segment_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Autumn", "channel": "email", "segment_ids": [segment_id], "content": CONTENT}
    response = post(client, "/campaigns", {**body, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def test_segments_idempotent_and_validated(client: TestClient) -> None:
    headers = {**WRITE, **key()}
    first = client.post("/segments", json={"name": "VIP", "rule": None}, headers=headers)
    again = client.post("/segments", json={"name": "VIP", "rule": None}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/segments", json={"name": "Other", "rule": None}, headers=headers)
    assert assert_problem(other, 422)["errors"][0]["field"].split(".") == [
        "header",
        "Idempotency-Key",
    ]

    bad_rule = {"all": [{"attribute": "region", "operator": "gt", "value": "x"}]}
    bad = client.post(
        "/segments",
        json={"name": "Bad", "rule": bad_rule},
        headers={**WRITE, "Idempotency-Key": "k-bad-rule-1"},
    )
    assert assert_problem(bad, 422)["errors"][0]["field"].split(".") == [
        "body",
        "rule",
        "all",
        "0",
        "operator",
    ]
    # Nothing was kept: the same key now creates the segment.
    good = client.post(
        "/segments",
        json={"name": "Bad", "rule": None},
        headers={**WRITE, "Idempotency-Key": "k-bad-rule-1"},
    )
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers

    segment_id, customer = first.json()["id"], str(uuid4())
    added = client.put(f"/segments/{segment_id}/members/{customer}", headers=WRITE)
    assert added.json()["members"] == [customer]
    stale = client.put(
        f"/segments/{segment_id}/members/{uuid4()}", headers={**WRITE, "If-Match": 'W/"1"'}
    )
    assert assert_problem(stale, 409)["current_version"] == 2
    dynamic = segment(client)
    refused = client.put(f"/segments/{dynamic['id']}/members/{customer}", headers=WRITE)
    assert_problem(refused, 409)


def nested(depth: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"attribute": "region", "operator": "equals", "value": "emea"}
    for _ in range(depth):
        rule = {"all": [rule]}
    return rule


@pytest.mark.parametrize(
    ("rule", "detail"),
    [
        (nested(256), "nests deeper than"),  # refused before any validator recurses into it
        (nested(16), "rules nest at most 5 levels deep"),
        (
            {
                "attribute": "last_purchase_at",
                "operator": "gt",
                "value": "0001-01-01T00:00:00+14:00",
            },
            "must be from 1900-01-01 to before 2200-01-01 (UTC)",
        ),
    ],
)
def test_segment_rules_too_deep_or_out_of_range_are_refused_and_nothing_is_kept(
    client: TestClient, application: MarketingApplication, rule: dict[str, Any], detail: str
) -> None:
    response = post(client, "/segments", {"name": "Deep", "rule": rule})

    (error,) = assert_problem(response, 422)["errors"]
    assert error["field"].startswith("body.rule") and detail in error["detail"]
    assert application.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize(
    "html",
    [
        "{{ 10**5000 }}",
        "{{ 'x' * 200000000 }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
        "{{ '%099999d' % 1 }}",
    ],
)
def test_templates_over_budget_are_refused_when_drafting(
    client: TestClient, application: MarketingApplication, html: str
) -> None:
    seg = segment(client)
    before = application.recorder.max_notification_id()
    body = {"name": "x", "channel": "email", "segment_ids": [seg["id"]]}

    response = post(client, "/campaigns", {**body, "content": {**CONTENT, "html": html}})

    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == ["body.content.html"]
    assert application.recorder.max_notification_id() == before


def test_a_segment_embeds_its_first_members_and_pages_the_rest(client: TestClient) -> None:
    segment_id = post(client, "/segments", {"name": "VIP", "rule": None}).json()["id"]
    customers = sorted(str(uuid4()) for _ in range(EMBEDDED_LIMIT + 3))
    for customer in customers:
        assert client.put(f"/segments/{segment_id}/members/{customer}", headers=WRITE).is_success

    shown = client.get(f"/segments/{segment_id}", headers=WRITE).json()
    rest = client.get(shown["members_next"], headers=WRITE).json()
    small = client.get(f"/segments/{segment_id}/members", params={"limit": 2}, headers=WRITE)

    assert shown["members"] + rest["items"] == customers
    assert rest["next_cursor"] is None
    assert small.json()["items"] == customers[:2]
    bad = client.get(f"/segments/{segment_id}/members", params={"cursor": "x"}, headers=WRITE)
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["query.cursor"]


@pytest.fixture
def sent(client: TestClient, application: MarketingApplication, feed) -> tuple[UUID, UUID]:
    """A running automated campaign (launched without an audience to read) whose message to
    the customer whose deal was won was sent: (campaign id, message id)."""
    customer = feed.register()
    feed.consent(customer)
    automation = {"trigger": "OpportunityWon", "delay_seconds": 0}
    cid = UUID(campaign(client, "", segment_ids=[], automation=automation)["id"])
    post(client, f"/campaigns/{cid}/launch", {})
    now = datetime.now(UTC)
    event, _ = deliver_at(feed, won(customer, now), now)
    send = application.load("send", AutomatedSend, send_id(cid, event.id))
    assert application.fire_send(send.id, now)

    class Sender:
        async def deliver(self, message: Any) -> None:
            return None

    mailer = Mailer(
        application,
        Sender(),
        TrackingLinks("https://m.example", SIGNER),
        "n@shop.example",
        messages_per_second=1000,
    )
    asyncio.run(mailer.deliver(send.message_id))
    assert application.message(send.message_id).status == "sent"
    return cid, send.message_id


def test_tracking_endpoints(client: TestClient, application: MarketingApplication, sent) -> None:
    _, message = sent
    pixel = client.get(f"/t/o/{SIGNER.sign('open', message)}.gif")
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert "no-store" in pixel.headers["cache-control"]
    assert application.message(message).opened_at is not None

    click = client.get(f"/t/c/{SIGNER.sign('click', message, 'offer')}", follow_redirects=False)
    assert (click.status_code, click.headers["location"]) == (302, "https://shop.example/offer")
    # What a mail scanner or a link tracker appends is ignored on a public link, never a 400.
    scanned = client.get(
        f"/t/c/{SIGNER.sign('click', message, 'offer')}?utm_source=mail&fbclid=x",
        follow_redirects=False,
    )
    assert scanned.status_code == 302
    # A link name the campaign does not have, though properly signed, leads nowhere.
    elsewhere = client.get(
        f"/t/c/{SIGNER.sign('click', message, 'https://evil.example')}", follow_redirects=False
    )
    assert_problem(elsewhere, 404)

    page = client.get(f"/t/u/{SIGNER.sign('unsubscribe', message)}")
    assert page.status_code == 200 and application.message(message).unsubscribed_at is None
    one_click = client.post(
        f"/t/u/{SIGNER.sign('unsubscribe', message)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert application.message(message).unsubscribed_at is not None
    assert application.profile(application.message(message).customer_id).unsubscribed


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/t/o/{open_for_click}.gif", 404),
        ("/t/c/{open_token}", 404),
        ("/t/u/{tampered}", 404),
        ("/t/o/{long}.gif", 404),
        ("/t/c/%00%ff", 422),  # refused by the platform's boundary before any route
        ("/t/c/..%2f..%2fsegments", 404),
        ("/t/o/" + "A" * 5000 + ".gif", 404),
    ],
)
def test_hostile_tracking_requests_are_refused(
    client: TestClient, application: MarketingApplication, sent, path: str, status: int
) -> None:
    _, message = sent
    open_token = SIGNER.sign("open", message)
    values = {
        "open_for_click": SIGNER.sign("click", message, "offer"),
        "open_token": open_token,
        "tampered": open_token[:-2] + ("AA" if open_token[-2:] != "AA" else "BB"),
        "long": open_token * 10,
    }
    version = application.message(message).version
    response = client.get(path.format(**values), follow_redirects=False)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert application.message(message).version == version


def form(**overrides: Any) -> dict[str, Any]:
    return {
        "family_name": "Curie",
        "given_name": "Marie",
        "email": "marie@lab.example",
        "company": "Lab",
        **overrides,
    }


def responses(application: MarketingApplication) -> list[UUID]:
    return list(application.aggregate_ids(CampaignResponse.Received))


def test_web_to_lead(client: TestClient, application: MarketingApplication, sent) -> None:
    cid, _ = sent
    accepted = client.post(f"/forms/{cid}", data=form(leave_this_empty="", message="Call me"))
    assert accepted.status_code == 202, accepted.text
    [response_id] = responses(application)
    response = application.load("response", CampaignResponse, response_id)
    assert (response.kind, response.email, response.answers) == (
        "form_submission",
        "marie@lab.example",
        {"message": "Call me"},
    )
    # JSON too, and a resubmission with the page's submission id is recorded once.
    submission = {**form(), "submission_id": str(uuid4())}
    for _ in range(2):
        assert client.post(f"/forms/{cid}", json=submission).status_code == 202
    assert len(responses(application)) == 2
    # An id of another record (the campaign's own, from the form's URL) takes nothing from it.
    taken = client.post(f"/forms/{cid}", json={**form(), "submission_id": str(cid)})
    assert taken.status_code == 202 and len(responses(application)) == 2
    assert application.campaign(cid).status == "running"


@pytest.mark.parametrize(
    ("send", "status", "loc"),
    [
        ({"data": form(email="not-an-address")}, 422, ["body", "email"]),
        ({"data": form(family_name="")}, 422, ["body", "family_name"]),
        ({"data": form(shoe_size="9")}, 422, ["body", "shoe_size"]),
        ({"data": form(phone="12345")}, 422, ["body", "phone"]),
        ({"json": [1, 2]}, 422, ["body"]),
        ({"json": {**form(), "email": 7}}, 422, ["body", "email"]),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, ["body"]),
        (
            {
                "content": b"a=1&a=2",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            422,
            ["body", "a"],
        ),
        (
            {
                "content": b"\xff\xfe=\x00",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            422,
            ["body"],
        ),
        ({"content": b"<xml/>", "headers": {"Content-Type": "application/xml"}}, 415, None),
        ({"data": form(message="x" * 20_000)}, 413, None),
        ({"data": form(company="<script>" * 100)}, 422, ["body", "company"]),
    ],
)
def test_web_to_lead_refuses_bad_input_without_recording(
    client: TestClient, application: MarketingApplication, sent, send, status, loc
) -> None:
    cid, _ = sent
    problem = assert_problem(client.post(f"/forms/{cid}", **send), status)
    if loc:
        assert problem["errors"][0]["field"].split(".") == loc
    assert responses(application) == []


def test_web_to_lead_honeypot_rate_limit_and_campaign(
    client: TestClient, application: MarketingApplication, sent
) -> None:
    cid, _ = sent
    bot = form(leave_this_empty="http://spam.example")
    assert client.post(f"/forms/{cid}", data=bot).status_code == 202
    assert responses(application) == []  # the bot is none the wiser
    # The former honeypot, which browsers autofill, no longer drops a person's submission.
    assert client.post(f"/forms/{cid}", data=form(website="https://ada.example")).status_code == 202
    assert len(responses(application)) == 1
    assert_problem(client.post(f"/forms/{uuid4()}", data=form()), 404)
    for _ in range(2):
        client.post(f"/forms/{cid}", data=form())
    limited = client.post(f"/forms/{cid}", data=form())  # the 6th of 5 a minute
    assert assert_problem(limited, 429) and 1 <= int(limited.headers["Retry-After"]) <= 60


def test_response_answers_are_numbers_every_json_parser_reads_alike(client: TestClient) -> None:
    body = {"kind": "reply", "customer_id": str(uuid4()), "answers": {"seats": 2**60}}

    response = post(client, f"/campaigns/{uuid4()}/responses", body)

    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.answers.seats"]
