"""The people API over HTTP (FastAPI TestClient, in-memory store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_platform.eventstore import ContextCapturingMapper
from crm_platform.web.pages import EMBEDDED_LIMIT

from .conftest import ERASE, READ, SUBJECT, WRITE, assert_problem, bearer, key

pytestmark = pytest.mark.unit

ADA = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "emails": [{"address": "Ada@Example.org", "type": "home"}],
}


def register(client: TestClient, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post("/customers", json=body or ADA, headers={**WRITE, **key(), **headers})


def contact(**overrides: Any) -> dict[str, Any]:
    occurred_at = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "channel": "phone",
        "direction": "inbound",
        "summary": "Asked for a quote",
        "occurred_at": occurred_at.isoformat(),
        **overrides,
    }


def record(client: TestClient, customer_id: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/customers/{customer_id}/interactions", json=body, headers={**WRITE, **key(), **headers}
    )


def patch(client: TestClient, customer_id: str, body: dict[str, Any], **headers: str) -> Any:
    return client.patch(
        f"/customers/{customer_id}",
        json=body,
        headers={**WRITE, **key(), "Content-Type": "application/merge-patch+json", **headers},
    )


def version_of(client: TestClient, customer_id: str) -> str:
    return client.get(f"/customers/{customer_id}", headers=READ).headers["ETag"]


def test_registering_creates_the_customer_at_its_location(client: TestClient) -> None:
    response = register(client, {**ADA, "phones": [{"number": "+49 30 123456", "type": "mobile"}]})

    assert response.status_code == 201
    customer = response.json()
    assert response.headers["Location"].endswith(f"/customers/{customer['id']}")
    assert response.headers["ETag"] == 'W/"1"'
    assert "Idempotent-Replayed" not in response.headers
    assert (customer["email"], customer["phone"], customer["version"]) == (
        "ada@example.org",
        "+4930123456",
        1,
    )
    assert customer["emails"] == [
        {"address": "ada@example.org", "type": "home", "primary": True, "record_id": customer["id"]}
    ]
    assert customer["origin"] == "api"
    fetched = client.get(response.headers["Location"], headers=READ)
    assert fetched.json() == customer
    assert fetched.headers["ETag"] == 'W/"1"'


def test_a_full_profile_is_kept(client: TestClient) -> None:
    organization = client.post(
        "/organizations", json={"name": "Analytical Engines"}, headers={**WRITE, **key()}
    ).json()
    body = {
        **ADA,
        "addresses": [{"lines": ["12 St James's Square"], "locality": "London", "country": "GB"}],
        "roles": [
            {"organization_id": organization["id"], "title": "Analyst", "start": "1843-01-01"}
        ],
        "family_members": [
            {"name": "Ada Byron King", "relation": "child", "birthday": {"month": 9, "day": 12}}
        ],
        "important_dates": [{"kind": "birthday", "date": {"month": 12, "day": 10, "year": 1815}}],
        "preferences": {
            "language": "en-gb",
            "preferred_channel": "post",
            "contact_hours": {
                "days": ["mon", "tue"],
                "start": "10:00",
                "end": "16:00",
                "time_zone": "Europe/London",
            },
        },
        "tags": ["Mathematician"],
    }

    customer = register(client, body).json()

    assert customer["roles"][0]["title"] == "Analyst"
    assert customer["family_members"][0]["birthday"] == {"month": 9, "day": 12, "year": None}
    assert customer["important_dates"][0]["date"]["year"] == 1815
    assert customer["preferences"]["language"] == "en-GB"
    assert customer["preferences"]["contact_hours"]["start"] == "10:00:00"
    assert customer["tags"] == ["mathematician"]
    assert customer["addresses"][0]["primary"] is True


def test_a_retried_registration_replays_the_first_response(client: TestClient) -> None:
    headers = key()
    first = register(client, **headers)
    record(client, first.json()["id"], contact())

    retry = register(client, **headers)

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]


def test_a_registration_key_reused_with_another_body_is_refused(client: TestClient) -> None:
    headers = key()
    first = register(client, **headers)

    response = register(client, {**ADA, "given_name": "Augusta"}, **headers)

    assert_problem(response, 422, "header.Idempotency-Key")
    assert client.get(first.headers["Location"], headers=READ).json() == first.json()


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("100000000000000000000", "must be an integer from"),
        ("NaN", "not JSON numbers"),
        ("1e400", "finite"),
    ],
)
def test_custom_values_are_numbers_every_json_parser_reads_alike(
    client: TestClient, application: ContactsApplication, value: str, detail: str
) -> None:
    body = '{"family_name": "Lovelace", "custom_fields": {"score": NUMBER}}'.replace(
        "NUMBER", value
    )
    response = client.post(
        "/customers", content=body, headers={**WRITE, **key(), "Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422, "body.custom_fields.score")
    assert detail in problem["errors"][0]["detail"]
    assert application.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ADA, "emails": [{"address": "ada.example.org"}]}, "body.emails.0.address"),
        ({**ADA, "emails": [{"address": "a@b.io", "kind": "x"}]}, "body.emails.0.kind"),
        ({**ADA, "given_name": "   "}, "body.given_name"),
        ({**ADA, "family_name": "x" * 201}, "body.family_name"),
        ({**ADA, "phones": [{"number": "030 1234567"}]}, "body.phones.0.number"),
        ({"given_name": "Ada"}, "body.family_name"),
        ({**ADA, "nickname": "Countess"}, "body.nickname"),
        ({**ADA, "roles": [{"organization_id": str(uuid4())}]}, "body.roles.0.organization_id"),
        ({**ADA, "custom_fields": {"shoe_size": 38}}, "body.custom_fields.shoe_size"),
        (
            {**ADA, "important_dates": [{"kind": "birthday", "date": {"month": 2, "day": 30}}]},
            "body.important_dates.0.date.day",
        ),
    ],
)
def test_invalid_registrations_name_the_field_and_create_nothing(
    client: TestClient, application: ContactsApplication, body: dict[str, Any], field: str
) -> None:
    response = register(client, body)

    problem = assert_problem(response, 422, field)
    assert problem["errors"][0]["pointer"] == "#/" + field.removeprefix("body.").replace(".", "/")
    assert application.recorder.max_notification_id() in (None, 0)


def test_malformed_json_is_a_bad_request(client: TestClient) -> None:
    response = client.post(
        "/customers",
        content=b"{not json",
        headers={**WRITE, **key(), "Content-Type": "application/json"},
    )
    assert_problem(response, 400)


def test_commands_require_an_idempotency_key(client: TestClient) -> None:
    customer_id = register(client).json()["id"]

    for response in (
        client.post("/customers", json=ADA, headers=WRITE),
        client.post(f"/customers/{customer_id}/interactions", json=contact(), headers=WRITE),
        client.patch(f"/customers/{customer_id}", json={"tags": []}, headers=WRITE),
    ):
        assert_problem(response, 422, "header.Idempotency-Key")


def test_a_patch_changes_only_what_it_names(client: TestClient) -> None:
    customer = register(client, {**ADA, "tags": ["vip"], "preferences": {"language": "en"}}).json()

    response = patch(
        client,
        customer["id"],
        {"given_name": "Augusta Ada", "preferences": {"preferred_channel": "email"}, "tags": None},
        **{"If-Match": 'W/"1"'},
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert response.headers["ETag"] == 'W/"2"'
    assert (updated["given_name"], updated["family_name"]) == ("Augusta Ada", "Lovelace")
    assert updated["preferences"]["language"] == "en"
    assert updated["preferences"]["preferred_channel"] == "email"
    assert updated["tags"] == []
    assert updated["emails"] == customer["emails"]


def test_a_retried_patch_replays_and_a_reused_key_is_refused(client: TestClient) -> None:
    customer_id = register(client).json()["id"]
    headers = key()
    first = patch(client, customer_id, {"tags": ["vip"]}, **headers)

    retry = patch(client, customer_id, {"tags": ["vip"]}, **headers)
    other = patch(client, customer_id, {"tags": None}, **headers)

    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 422, "header.Idempotency-Key")
    assert version_of(client, customer_id) == 'W/"2"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"family_name": None}, "body.family_name"),
        ({"emails": [{"address": "a@b.io"}, {"address": "A@b.io"}]}, "body.emails.1"),
        ({"preferences": {"language": "??"}}, "body.preferences.language"),
        ({"expected_version": 0}, "body.expected_version"),
    ],
)
def test_an_invalid_patch_names_the_field_and_changes_nothing(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(patch(client, customer_id, body), 422, field)
    assert version_of(client, customer_id) == 'W/"1"'


def test_recording_a_contact(client: TestClient) -> None:
    customer_id = register(client).json()["id"]

    response = record(
        client,
        customer_id,
        contact(subject="Quote", related_to={"kind": "opportunity", "id": "opp-7"}),
        **{"If-Match": 'W/"1"'},
    )

    assert response.status_code == 201
    interaction = response.json()
    assert (interaction["actor"], interaction["customer_version"]) == (SUBJECT, 2)
    assert interaction["related_to"] == {"kind": "opportunity", "id": "opp-7"}
    assert interaction["record_id"] == customer_id
    assert client.get(response.headers["Location"], headers=READ).json() == interaction
    listing = client.get(f"/customers/{customer_id}/interactions", headers=READ)
    assert listing.json() == {
        "customer_id": customer_id,
        "version": 2,
        "items": [interaction],
        "next_cursor": None,
    }
    assert listing.headers["ETag"] == 'W/"2"'


def test_interactions_are_paged_and_a_customer_embeds_only_the_first_page(
    client: TestClient,
) -> None:
    customer_id = register(client).json()["id"]
    start = datetime.now(UTC) - timedelta(days=1)
    for minutes in range(EMBEDDED_LIMIT + 5):
        at = (start + timedelta(minutes=minutes)).isoformat()
        assert record(client, customer_id, contact(occurred_at=at)).status_code == 201

    shown = client.get(f"/customers/{customer_id}", headers=READ).json()
    pages, path = [], shown["interactions_next"]
    while path:
        page = client.get(path, headers=READ).json()
        pages.append(page["items"])
        path = page["next_cursor"] and (
            f"/customers/{customer_id}/interactions?limit=3&cursor={page['next_cursor']}"
        )
    everything = client.get(
        f"/customers/{customer_id}/interactions", params={"limit": 200}, headers=READ
    ).json()

    assert len(shown["interactions"]) == EMBEDDED_LIMIT
    assert [len(page) for page in pages] == [5]
    assert shown["interactions"] + pages[0] == everything["items"]
    assert everything["next_cursor"] is None
    assert [i["occurred_at"] for i in everything["items"]] == sorted(
        i["occurred_at"] for i in everything["items"]
    )
    small = client.get(f"/customers/{customer_id}/interactions", params={"limit": 10}, headers=READ)
    assert (
        small.headers["Link"]
        # Relative: the front door never reflects the request's Host.
        == f"<{small.url.copy_add_param('cursor', small.json()['next_cursor']).raw_path.decode()}>;"
        ' rel="next"'
    )
    rest = client.get(
        f"/customers/{customer_id}/interactions",
        params={"limit": 200, "cursor": small.json()["next_cursor"]},
        headers=READ,
    )
    assert small.json()["items"] + rest.json()["items"] == everything["items"]
    assert "Link" not in rest.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"limit": -1}, "query.limit"),
    ],
)
@pytest.mark.parametrize("listing", ["interactions", "consents"])
def test_bad_pages_of_a_customer_s_lists_name_the_parameter(
    client: TestClient, listing: str, params: dict[str, Any], field: str
) -> None:
    customer_id = register(client).json()["id"]
    response = client.get(f"/customers/{customer_id}/{listing}", params=params, headers=READ)
    assert_problem(response, 422, field)


def test_a_retried_contact_is_recorded_once(client: TestClient) -> None:
    customer_id = register(client).json()["id"]
    headers, body = {**key(), "If-Match": 'W/"1"'}, contact(actor="bob")
    first = record(client, customer_id, body, **headers)

    retry = record(client, customer_id, body, **headers)
    other = record(client, customer_id, {**body, "actor": "carol"}, **headers)

    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 422, "header.Idempotency-Key")
    assert version_of(client, customer_id) == 'W/"2"'


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "pigeon"}, "body.channel"),
        ({"direction": "sideways"}, "body.direction"),
        ({"summary": "  "}, "body.summary"),
        ({"summary": "x" * 4001}, "body.summary"),
        ({"occurred_at": "2025-03-14T10:00:00"}, "body.occurred_at"),
        ({"occurred_at": "yesterday"}, "body.occurred_at"),
        ({"occurred_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "body.occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "body.occurred_at"),  # overflows in UTC
        ({"occurred_at": "1899-12-31T00:00:00Z"}, "body.occurred_at"),
        ({"actor": ""}, "body.actor"),
        ({"expected_version": 0}, "body.expected_version"),
        ({"related_to": {"kind": "Opp!", "id": "1"}}, "body.related_to.kind"),
    ],
)
def test_invalid_contacts_name_the_field_and_change_nothing(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(record(client, customer_id, contact(**overrides)), 422, field)
    assert version_of(client, customer_id) == 'W/"1"'


@pytest.mark.parametrize(
    ("headers", "body"),
    [({"If-Match": 'W/"1"'}, {}), ({"If-Match": '"1"'}, {}), ({}, {"expected_version": 1})],
)
def test_a_stale_version_is_a_conflict_naming_the_current_one(
    client: TestClient, headers: dict[str, str], body: dict[str, Any]
) -> None:
    customer_id = register(client).json()["id"]
    record(client, customer_id, contact())

    response = record(client, customer_id, contact(**body), **headers)

    problem = assert_problem(response, 409)
    assert problem["current_version"] == 2
    assert version_of(client, customer_id) == 'W/"2"'


@pytest.mark.parametrize(
    ("if_match", "body"), [("3", {}), ('W/"1", W/"2"', {}), ('W/"1"', {"expected_version": 2})]
)
def test_malformed_or_contradicting_preconditions_are_bad_requests(
    client: TestClient, if_match: str, body: dict[str, Any]
) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(record(client, customer_id, contact(**body), **{"If-Match": if_match}), 400)
    assert version_of(client, customer_id) == 'W/"1"'


def test_consent_is_recorded_per_channel_and_purpose(client: TestClient) -> None:
    customer_id = register(client).json()["id"]
    decided = datetime.now(UTC) - timedelta(days=1)
    body = {
        "channel": "email",
        "purpose": "marketing",
        "status": "granted",
        "source": "web_form",
        "evidence": "Ticked the newsletter box",
        "decided_at": decided.isoformat(),
    }

    granted = client.post(
        f"/customers/{customer_id}/consents", json=body, headers={**WRITE, **key()}
    )
    withdrawn = client.post(
        f"/customers/{customer_id}/consents",
        json={
            **body,
            "status": "withdrawn",
            "source": "call",
            "decided_at": datetime.now(UTC).isoformat(),
        },
        headers={**WRITE, **key(), "If-Match": 'W/"2"'},
    )
    consents = client.get(f"/customers/{customer_id}/consents", headers=READ)

    assert (granted.status_code, withdrawn.status_code) == (201, 201)
    assert consents.headers["ETag"] == 'W/"3"'
    assert [c["status"] for c in consents.json()["history"]] == ["granted", "withdrawn"]
    assert [(c["channel"], c["status"]) for c in consents.json()["in_force"]] == [
        ("email", "withdrawn")
    ]
    assert (
        client.get(f"/customers/{customer_id}", headers=READ).json()["consents"]
        == (consents.json()["in_force"])
    )
    bad = client.post(
        f"/customers/{customer_id}/consents",
        json={**body, "purpose": "gossip"},
        headers={**WRITE, **key()},
    )
    assert_problem(bad, 422, "body.purpose")
    for decided_at in ("0001-01-01T00:00:00+14:00", "2025-03-14T10:00:00"):
        bad = client.post(
            f"/customers/{customer_id}/consents",
            json={**body, "decided_at": decided_at},
            headers={**WRITE, **key()},
        )
        assert_problem(bad, 422, "body.decided_at")
    assert version_of(client, customer_id) == 'W/"3"'
    first = client.get(f"/customers/{customer_id}/consents", params={"limit": 1}, headers=READ)
    rest = client.get(
        f"/customers/{customer_id}/consents",
        params={"cursor": first.json()["next_cursor"]},
        headers=READ,
    )
    assert [c["status"] for c in first.json()["history"] + rest.json()["history"]] == [
        "granted",
        "withdrawn",
    ]
    assert 'rel="next"' in first.headers["Link"]
    assert rest.json()["next_cursor"] is None and "Link" not in rest.headers


def test_unknown_records_are_not_found(client: TestClient) -> None:
    unknown = str(uuid4())
    customer_id = register(client).json()["id"]

    assert_problem(client.get(f"/customers/{unknown}", headers=READ), 404)
    assert_problem(client.get(f"/customers/{unknown}/interactions", headers=READ), 404)
    assert_problem(record(client, unknown, contact()), 404)
    assert_problem(patch(client, unknown, {"tags": []}), 404)
    assert_problem(client.get(f"/customers/{unknown}/export", headers=READ), 404)
    assert_problem(client.post(f"/customers/{unknown}/erasure", headers=ERASE), 404)
    assert_problem(
        client.get(f"/customers/{customer_id}/interactions/{uuid4()}", headers=READ), 404
    )
    assert_problem(client.get("/customers/not-a-uuid", headers=READ), 422, "path.customer_id")


def test_requests_without_a_valid_token_are_unauthorized(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
        response = client.post("/customers", json=ADA, headers={**headers, **key()})
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_requests_without_the_scope_are_forbidden(
    client: TestClient, application: ContactsApplication
) -> None:
    customer_id = register(client).json()["id"]
    registered = application.recorder.max_notification_id()

    assert_problem(client.post("/customers", json=ADA, headers={**READ, **key()}), 403)
    assert_problem(client.get(f"/customers/{customer_id}", headers=WRITE), 403)
    assert_problem(client.post(f"/customers/{customer_id}/erasure", headers=WRITE), 403)
    assert application.recorder.max_notification_id() == registered


def test_the_request_context_is_stored_with_the_events(
    client: TestClient, application: ContactsApplication
) -> None:
    response = register(client, **{"X-Correlation-ID": "corr-42"})

    notification = application.recorder.select_notifications(1, 1)[0]
    mapper = application.mapper
    assert isinstance(mapper, ContextCapturingMapper)
    domain_event, metadata = mapper.decode_with_metadata(notification)
    assert domain_event.originator_id == UUID(response.json()["id"])
    assert metadata is not None
    assert (metadata.correlation_id, metadata.actor) == ("corr-42", SUBJECT)
    assert response.headers["X-Correlation-ID"] == "corr-42"


# --- merges -------------------------------------------------------------------------------------


def merge(client: TestClient, survivor: str, duplicate: str, **body: Any) -> Any:
    return client.post(
        f"/customers/{survivor}/merges",
        json={"duplicate_id": duplicate, **body},
        headers={**WRITE, **key()},
    )


def test_a_merged_duplicate_redirects_to_the_survivor_until_unmerged(client: TestClient) -> None:
    survivor = register(client).json()["id"]
    duplicate = register(client, {**ADA, "emails": [{"address": "ada@work.io"}]}).json()["id"]
    record(client, duplicate, contact(summary="Called about the invoice"))

    merged = merge(client, survivor, duplicate, expected_version=1, duplicate_expected_version=2)

    assert merged.status_code == 201, merged.text
    merge_id = merged.json()["merge_id"]
    assert merged.headers["Location"].endswith(f"/customers/{survivor}/merges/{merge_id}")
    redirect = client.get(f"/customers/{duplicate}/interactions", headers=READ)
    assert redirect.status_code == 307
    assert redirect.headers["Location"].endswith(f"/customers/{survivor}/interactions")
    assert redirect.json()["survivor_id"] == survivor
    shown = client.get(f"/customers/{survivor}", headers=READ).json()
    assert [(e["address"], e["record_id"]) for e in shown["emails"]] == [
        ("ada@example.org", survivor),
        ("ada@work.io", duplicate),
    ]
    assert [i["record_id"] for i in shown["interactions"]] == [duplicate]
    assert [m["duplicate_id"] for m in shown["merged"]] == [duplicate]
    followed = client.post(
        f"/customers/{duplicate}/interactions",
        json=contact(),
        headers={**WRITE, **key()},
        follow_redirects=True,
    )
    assert followed.status_code == 201 and followed.json()["record_id"] == survivor

    unmerged = client.delete(f"/customers/{survivor}/merges/{merge_id}", headers=WRITE)
    again = client.delete(f"/customers/{survivor}/merges/{merge_id}", headers=WRITE)

    assert unmerged.status_code == 200 and unmerged.json()["unmerged_at"]
    assert again.json() == unmerged.json() and again.headers["Idempotent-Replayed"] == "true"
    assert client.get(f"/customers/{duplicate}", headers=READ).status_code == 200
    listing = client.get(f"/customers/{survivor}/merges", headers=READ).json()
    assert [m["merge_id"] for m in listing["items"]] == [merge_id]
    assert [
        e["address"] for e in client.get(f"/customers/{survivor}", headers=READ).json()["emails"]
    ] == ["ada@example.org"]


def test_merges_refused_name_the_reason_and_change_nothing(client: TestClient) -> None:
    survivor = register(client).json()["id"]
    duplicate = register(client).json()["id"]

    assert_problem(merge(client, survivor, survivor), 422, "body.duplicate_id")
    assert_problem(merge(client, survivor, str(uuid4())), 422, "body.duplicate_id")
    conflict = assert_problem(merge(client, survivor, duplicate, duplicate_expected_version=5), 409)
    assert (conflict["current_version"], conflict["record_id"]) == (1, duplicate)
    assert_problem(merge(client, str(uuid4()), duplicate), 404)
    assert merge(client, survivor, duplicate).status_code == 201
    assert_problem(merge(client, register(client).json()["id"], duplicate), 409)
    assert_problem(client.delete(f"/customers/{survivor}/merges/{uuid4()}", headers=WRITE), 404)
    assert version_of(client, survivor) == 'W/"2"'


# --- GDPR ---------------------------------------------------------------------------------------


def test_the_export_holds_everything_with_its_history(client: TestClient) -> None:
    customer_id = register(client).json()["id"]
    record(client, customer_id, contact(summary="Asked what we hold about her"))

    export = client.get(f"/customers/{customer_id}/export", headers=READ)

    assert export.status_code == 200
    body = export.json()
    assert (body["customer_id"], body["status"], body["erased_at"]) == (customer_id, "active", None)
    [own] = body["records"]
    assert own["profile"]["emails"][0]["address"] == "ada@example.org"
    assert own["interactions"][0]["summary"] == "Asked what we hold about her"
    assert [h["type"] for h in own["history"]] == ["Customer.Registered", "Customer.Contacted"]
    assert own["history"][0]["data"]["family_name"] == "Lovelace"


def test_an_erased_person_is_gone_and_the_export_says_so(
    client: TestClient, application: ContactsApplication
) -> None:
    customer_id = register(client).json()["id"]
    record(client, customer_id, contact())

    erased = client.post(f"/customers/{customer_id}/erasure", headers=ERASE)
    again = client.post(f"/customers/{customer_id}/erasure", headers=ERASE)

    assert erased.status_code == 200
    assert erased.json()["erased_records"] == [customer_id]
    assert again.json() == erased.json() and again.headers["Idempotent-Replayed"] == "true"
    gone = assert_problem(client.get(f"/customers/{customer_id}", headers=READ), 410)
    assert gone["erased_at"] == erased.json()["erased_at"].replace("Z", "+00:00")
    assert_problem(record(client, customer_id, contact()), 410)
    assert_problem(patch(client, customer_id, {"tags": ["x"]}), 410)
    assert_problem(merge(client, customer_id, register(client).json()["id"]), 410)
    export = client.get(f"/customers/{customer_id}/export", headers=READ).json()
    assert export["status"] == "erased"
    assert export["records"][0]["profile"]["family_name"] is None
    assert "Lovelace" not in str(export) and "ada@example.org" not in str(export)
    assert application.personal_data_keys.is_destroyed(UUID(customer_id))


def test_erasure_needs_its_own_scope(client: TestClient) -> None:
    customer_id = register(client).json()["id"]
    assert_problem(
        client.post(f"/customers/{customer_id}/erasure", headers=bearer("contacts:write")), 403
    )
    assert client.get(f"/customers/{customer_id}", headers=READ).status_code == 200
