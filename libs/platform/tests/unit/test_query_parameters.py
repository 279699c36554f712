"""One rule on every route: a query parameter the route does not declare is a 400 naming it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel

from crm_platform.web.app import create_api
from crm_platform.web.query import tolerate_unknown_query_parameters

pytestmark = pytest.mark.unit


class Window(BaseModel):
    since: str | None = None
    until: str | None = None


def paging(cursor: str | None = None, limit: int = 10) -> tuple[str | None, int]:
    return cursor, limit


def _routes() -> APIRouter:
    router = APIRouter()

    @router.get("/things")
    def things(
        page: Annotated[tuple[str | None, int], Depends(paging)],
        tag: Annotated[list[str], Query()] = [],  # noqa: B006
        sort_by: Annotated[str | None, Query(alias="sort")] = None,
    ) -> dict[str, object]:
        return {"tags": tag, "sort": sort_by, "limit": page[1]}

    @router.get("/window")
    def window(period: Annotated[Window, Query()]) -> Window:
        return period

    @router.post("/things")
    def create() -> dict[str, str]:
        return {}

    return router


def _public_routes() -> APIRouter:
    router = APIRouter(dependencies=[Depends(tolerate_unknown_query_parameters)])

    @router.get("/t/c/{token}")
    def click(token: str, source: str | None = None) -> dict[str, str | None]:
        return {"token": token, "source": source}

    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(
        create_api(title="Test", service="test", routers=[_routes(), _public_routes()])
    ) as test_client:
        yield test_client


def test_declared_parameters_of_the_route_and_its_dependencies_pass(client: TestClient) -> None:
    response = client.get("/things?tag=a&tag=b&sort=name&cursor=x&limit=5")
    assert response.json() == {"tags": ["a", "b"], "sort": "name", "limit": 5}
    assert client.get("/window?since=2025&until=2026").status_code == 200


@pytest.mark.parametrize(
    ("request_path", "method", "unknown"),
    [
        ("/things?tags=a&sort_by=name", "get", ["query.sort_by", "query.tags"]),
        ("/window?from=2025", "get", ["query.from"]),
        ("/things?dry_run=true", "post", ["query.dry_run"]),
        ("/healthz?verbose=1", "get", ["query.verbose"]),
    ],
)
def test_an_unknown_parameter_is_a_400_problem_naming_it(
    client: TestClient, request_path: str, method: str, unknown: list[str]
) -> None:
    response = client.request(method.upper(), request_path)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == unknown
    assert all(name.removeprefix("query.") in problem["detail"] for name in unknown)


def test_a_public_link_ignores_what_mail_scanners_and_site_analytics_append(client: TestClient):
    response = client.get("/t/c/abc?source=mail&utm_source=newsletter&gclid=x1&fbclid=y2")
    assert response.status_code == 200
    assert response.json() == {"token": "abc", "source": "mail"}
    assert client.get("/things?utm_source=newsletter").status_code == 400  # the others still refuse
