"""RFC 9457 problem details for every error an API returns; bad input never becomes a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..context import current_context

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://crm.example/problems/"


class ProblemError(Exception):
    status = 500
    title = "Internal Server Error"
    kind = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions


class BadRequest(ProblemError):
    status, title, kind = 400, "Bad Request", TYPE_BASE + "bad-request"


class Unauthorized(ProblemError):
    status, title, kind = 401, "Unauthorized", TYPE_BASE + "unauthorized"


class Forbidden(ProblemError):
    status, title, kind = 403, "Forbidden", TYPE_BASE + "forbidden"


class NotFound(ProblemError):
    status, title, kind = 404, "Not Found", TYPE_BASE + "not-found"


class Conflict(ProblemError):
    status, title, kind = 409, "Conflict", TYPE_BASE + "conflict"


class PreconditionRequired(ProblemError):
    status, title, kind = 428, "Precondition Required", TYPE_BASE + "precondition-required"


class Unprocessable(ProblemError):
    status, title, kind = 422, "Unprocessable Content", TYPE_BASE + "validation"

    @classmethod
    def for_field(cls, field: str, detail: str) -> Unprocessable:
        return cls(detail, errors=[field_error(field.split("."), detail, "value_error")])


class ServiceUnavailable(ProblemError):
    status, title, kind = 503, "Service Unavailable", TYPE_BASE + "unavailable"


def field_error(location: list[Any] | tuple[Any, ...], detail: str, kind: str) -> dict[str, Any]:
    """One invalid field: dotted name, JSON Pointer into the body (when it is in the body)."""
    parts = [str(p) for p in location]
    error = {"field": ".".join(parts), "detail": detail, "type": kind}
    if parts and parts[0] == "body":
        error["pointer"] = "#/" + "/".join(
            p.replace("~", "~0").replace("/", "~1") for p in parts[1:]
        )
    return error


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    kind: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    if errors:
        body["errors"] = errors
    if ctx := current_context():
        body["correlation_id"] = ctx.correlation_id
    body |= extensions
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        exc.status,
        exc.title,
        exc.detail,
        exc.kind,
        exc.errors,
        exc.headers,
        **exc.extensions,
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            request,
            400,
            "Bad Request",
            "The request body is not valid JSON.",
            TYPE_BASE + "malformed",
        )
    return problem_response(
        request,
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        TYPE_BASE + "validation",
        errors=[field_error(e["loc"], e["msg"], e["type"]) for e in errors],
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem_response(
        request, exc.status_code, _title(exc.status_code), str(exc.detail), headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "Internal Server Error", "An unexpected error occurred.")


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem bodies."""
    return {
        status: {"description": _title(status), "content": {PROBLEM_JSON: {}}}
        for status in statuses
    }
