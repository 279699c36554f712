"""Every error an API built with create_api returns is an RFC 9457 problem; bad input is never a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from crm_platform.web.app import create_api
from crm_platform.web.idempotency import IdempotencyKey
from crm_platform.web.problems import (
    TYPE_BASE,
    BadRequest,
    InvalidState,
    NotFound,
    PreconditionRequired,
    ProblemError,
    UnprocessableEntity,
    VersionConflict,
    field_error,
    problem_responses,
)
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.unit

KEY = {"Idempotency-Key": "key-0001"}


class Line(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1, le=10)
    tags: list[str] = []


def _routes() -> APIRouter:
    router = APIRouter(responses=problem_responses(404, 409))

    @router.post("/lines")
    def create(line: Line, key: IdempotencyKey) -> dict[str, Any]:
        return {"line": line.model_dump(), "key": key}

    @router.get("/lines/{number}")
    def read(number: int) -> dict[str, Any]:
        raise NotFound(f"Line {number} does not exist.")

    @router.put("/lines/{number}")
    def replace(number: int) -> None:
        raise VersionConflict(current_version=3)

    @router.delete("/lines/{number}")
    def delete(number: int) -> None:
        raise UnprocessableEntity.for_field("path.number", "Only drafts can be deleted.")

    @router.post("/lines/{number}/close")
    def close(number: int) -> None:
        raise InvalidState("The line is closed already.")

    @router.patch("/lines/{number}")
    def patch(number: int) -> None:
        raise PreconditionRequired("Send If-Match.")

    @router.get("/teapot")
    def teapot() -> None:
        raise ProblemError(
            "Short and stout.", status=418, headers={"Retry-After": "5"}, tea="oolong"
        )

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret.py")

    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_api(title="Test", service="test", routers=[_routes()])) as test_client:
        yield test_client


def _errors(response: Any) -> dict[str, dict[str, Any]]:
    body = assert_problem(response, 422)
    assert body["type"] == TYPE_BASE + "validation"
    assert body["instance"] == "/lines"
    return {error["field"]: error for error in body["errors"]}


def test_a_missing_field_is_named_with_a_json_pointer(client: TestClient) -> None:
    errors = _errors(client.post("/lines", json={"quantity": 2}, headers=KEY))
    assert errors == {
        "body.name": {
            "field": "body.name",
            "pointer": "#/name",
            "type": "missing",
            "detail": "Field required",
        }
    }


def test_wrong_types_and_out_of_range_values_are_all_reported(client: TestClient) -> None:
    body = {"name": "", "quantity": "many", "tags": ["ok", 7]}
    errors = _errors(client.post("/lines", json=body, headers=KEY))
    assert {field: e["type"] for field, e in errors.items()} == {
        "body.name": "string_too_short",
        "body.quantity": "int_parsing",
        "body.tags.1": "string_type",
    }
    assert errors["body.tags.1"]["pointer"] == "#/tags/1"
    errors = _errors(client.post("/lines", json={"name": "a", "quantity": 11}, headers=KEY))
    assert errors["body.quantity"]["type"] == "less_than_equal"


def test_a_missing_body_points_at_the_whole_document(client: TestClient) -> None:
    assert _errors(client.post("/lines", headers=KEY))["body"]["pointer"] == "#"


def test_json_pointers_escape_slash_and_tilde() -> None:
    assert field_error(["body", "a/b", "c~d", 0], "x", "y")["pointer"] == "#/a~1b/c~0d/0"


def test_missing_and_invalid_headers_and_paths_are_reported_without_pointer(
    client: TestClient,
) -> None:
    line = {"name": "a", "quantity": 1}
    missing = _errors(client.post("/lines", json=line))["header.Idempotency-Key"]
    assert missing["type"] == "missing" and "pointer" not in missing
    short = _errors(client.post("/lines", json=line, headers={"Idempotency-Key": "short"}))
    assert short["header.Idempotency-Key"]["type"] == "string_too_short"
    path = assert_problem(client.get("/lines/seven"), 422)["errors"]
    assert [(e["field"], e["type"]) for e in path] == [("path.number", "int_parsing")]


def test_malformed_json_is_a_bad_request_saying_where(client: TestClient) -> None:
    response = client.post(
        "/lines", content=b'{"name": ', headers={**KEY, "content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"] == TYPE_BASE + "malformed-body"
    assert body["detail"] == "The request body is not valid JSON: Expecting value at position 9."


def test_a_body_that_is_not_json_is_an_unsupported_media_type(client: TestClient) -> None:
    response = client.post(
        "/lines", content=b"name=a", headers={**KEY, "content-type": "text/plain"}
    )
    assert assert_problem(response, 415)["detail"] == "Send the request body as application/json."


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    body = assert_problem(client.get("/nowhere"), 404)
    assert (body["type"], body["title"], body["instance"]) == (
        "about:blank",
        "Not Found",
        "/nowhere",
    )
    response = client.delete("/lines")
    assert assert_problem(response, 405)["title"] == "Method Not Allowed"
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("method", "status", "kind", "extra"),
    [
        ("GET", 404, "not-found", {"detail": "Line 3 does not exist."}),
        ("PUT", 409, "version-conflict", {"current_version": 3}),
        ("POST", 409, "invalid-state", {"detail": "The line is closed already."}),
        ("PATCH", 428, "precondition-required", {"title": "Precondition Required"}),
    ],
)
def test_domain_errors_keep_their_status_type_and_members(
    client: TestClient, method: str, status: int, kind: str, extra: dict[str, Any]
) -> None:
    path = "/lines/3/close" if method == "POST" else "/lines/3"
    body = assert_problem(client.request(method, path), status)
    assert body["type"] == TYPE_BASE + kind
    assert body["instance"] == path
    assert body["correlation_id"]
    assert extra.items() <= body.items()


def test_a_field_error_raised_by_a_route_looks_like_a_validation_error(client: TestClient) -> None:
    body = assert_problem(client.delete("/lines/3"), 422)
    assert body["errors"] == [
        {"field": "path.number", "detail": "Only drafts can be deleted.", "type": "value_error"}
    ]


def test_a_problem_error_may_choose_its_status_headers_and_members(client: TestClient) -> None:
    response = client.get("/teapot")
    body = assert_problem(response, 418)
    assert (body["title"], body["detail"], body["tea"]) == (
        "I'm a Teapot",
        "Short and stout.",
        "oolong",
    )
    assert response.headers["retry-after"] == "5"
    assert str(BadRequest()) == "Bad Request"


def test_an_unexpected_error_is_a_logged_500_without_internals(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom", headers={"X-Correlation-ID": "c-500"})
    body = assert_problem(response, 500)
    assert body["detail"] == "An unexpected error occurred."
    assert body["correlation_id"] == response.headers["x-correlation-id"] == "c-500"
    assert "hunter2" not in response.text and "secret" not in response.text
    assert "hunter2" in caplog.text  # the stack is in the log, for the operator
    assert caplog.records[-1].exc_info is not None


def test_the_openapi_document_describes_problem_bodies(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"Problem", "FieldProblem"} <= schemas.keys()
    assert "HTTPValidationError" not in schemas
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    create = document["paths"]["/lines"]["post"]["responses"]
    assert create["422"]["content"] == problem  # FastAPI's own 422 schema is replaced
    assert create["404"] == {"description": "Not Found", "content": problem}
