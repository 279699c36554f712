"""A domain's refusals (crm_platform.errors) escaping a route become their one RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from crm_platform import errors
from crm_platform.personal_data import PersonalDataErased
from crm_platform.web.app import create_api
from crm_platform.web.problems import TYPE_BASE
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.unit

RECORD, SURVIVOR = uuid4(), uuid4()
ERASED_AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


class LineClosed(errors.InvalidState):
    """A service's own refusal, derived from the platform's."""


REFUSALS: dict[str, errors.DomainError] = {
    "missing": errors.RecordNotFound("line", RECORD),
    "stale": errors.VersionConflict(RECORD, 2, 3, kind="line"),
    "closed": LineClosed("line 7 is closed"),
    "erased-data": PersonalDataErased(RECORD),
    "rule": errors.RuleViolation("lines.0.quantity", "must be positive"),
    "query-rule": errors.RuleViolation("cursor", "not ours", location="query"),
    "key": errors.IdempotencyKeyReused("the key came with another body"),
    "erased": errors.RecordErased("customer", RECORD, ERASED_AT),
    "merged": errors.RecordMerged("customer", RECORD, SURVIVOR),
    "other": errors.DomainError("refused"),
}


def _routes() -> APIRouter:
    router = APIRouter()

    @router.get("/refusals/{name}/{record_id}")
    def refuse(name: str, record_id: UUID, page: int = 1) -> None:  # a query to carry over
        raise REFUSALS[name]

    @router.get("/async/{name}")
    async def refuse_async(name: str) -> None:
        raise REFUSALS[name]

    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_api(title="Test", service="test", routers=[_routes()])
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def refused(client: TestClient, name: str, status: int) -> dict[str, Any]:
    body = assert_problem(client.get(f"/refusals/{name}/{RECORD}?page=2"), status)
    assert body["instance"] == f"/refusals/{name}/{RECORD}"
    return body


def test_an_unknown_record_is_a_404(client: TestClient) -> None:
    body = refused(client, "missing", 404)
    assert (body["type"], body["detail"]) == (TYPE_BASE + "not-found", f"line {RECORD} not found")


def test_a_stale_version_is_a_409_naming_the_record_and_its_current_version(
    client: TestClient,
) -> None:
    body = refused(client, "stale", 409)
    assert body["type"] == TYPE_BASE + "version-conflict"
    assert (body["current_version"], body["record_id"]) == (3, str(RECORD))


@pytest.mark.parametrize("name", ["closed", "erased-data"])
def test_a_state_refusing_the_command_is_a_409_invalid_state(client: TestClient, name: str) -> None:
    body = refused(client, name, 409)
    assert (body["type"], body["title"]) == (TYPE_BASE + "invalid-state", "Conflict")
    assert body["detail"] == str(REFUSALS[name])


@pytest.mark.parametrize(
    ("name", "field", "pointer"),
    [
        ("rule", "body.lines.0.quantity", "#/lines/0/quantity"),
        ("query-rule", "query.cursor", None),
        ("key", "header.Idempotency-Key", None),
    ],
)
def test_input_breaking_a_rule_is_a_422_naming_it_where_the_request_carried_it(
    client: TestClient, name: str, field: str, pointer: str | None
) -> None:
    body = refused(client, name, 422)
    assert body["type"] == TYPE_BASE + "validation"
    [error] = body["errors"]
    assert (error["field"], error.get("pointer")) == (field, pointer)


def test_an_erased_person_is_gone_since_the_erasure(client: TestClient) -> None:
    body = refused(client, "erased", 410)
    assert (body["type"], body["title"]) == (TYPE_BASE + "erased", "Gone")
    assert body["erased_at"] == ERASED_AT.isoformat()


def test_a_merged_record_redirects_to_the_same_request_on_the_survivor(
    client: TestClient,
) -> None:
    response = client.get(f"/refusals/merged/{RECORD}?page=2")
    body = assert_problem(response, 307)
    assert (body["type"], body["survivor_id"]) == (TYPE_BASE + "merged", str(SURVIVOR))
    assert response.headers["Location"].endswith(f"/refusals/merged/{SURVIVOR}?page=2")


def test_a_refusal_of_no_named_kind_is_a_409_and_async_routes_answer_alike(
    client: TestClient,
) -> None:
    assert refused(client, "other", 409)["type"] == TYPE_BASE + "conflict"
    assert assert_problem(client.get("/async/missing"), 404)["instance"] == "/async/missing"


def test_every_refusal_is_a_value_or_lookup_error_where_python_code_expects_one() -> None:
    assert isinstance(REFUSALS["rule"], ValueError)
    assert isinstance(REFUSALS["missing"], LookupError)
