"""Assertions and headers for tests of APIs built with create_api."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ..devtoken import issue_token
from ..settings import AuthSettings
from .problems import PROBLEM_JSON, Problem
from .rate_limit import MemoryHitCounter


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    Problem.model_validate(body)
    assert body["status"] == status
    return body


def bearer(
    *scopes: str, subject: str = "tester@crm.local", settings: AuthSettings | None = None
) -> dict[str, str]:
    """An Authorization header with a dev-issuer token."""
    return {"Authorization": f"Bearer {issue_token(list(scopes), subject, settings=settings)}"}


def counting_in_memory(app: FastAPI) -> FastAPI:
    """``app`` with its public routes' hits counted in memory: for unit tests over in-memory
    applications, which have no database to count in."""
    app.state.hit_counter = MemoryHitCounter()
    return app
