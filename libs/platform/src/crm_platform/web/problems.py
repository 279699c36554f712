"""RFC 9457 problem details for every error an API returns; bad input never becomes a 500.

Routes raise the ``ProblemError`` subclasses below, or let a domain's refusal escape (the classes
of ``crm_platform.errors``: each kind is answered with its one problem here); request validation
errors, HTTP exceptions (unknown routes, wrong methods) and unexpected errors get the same shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

from .. import errors
from ..context import current_context
from .idempotency import IDEMPOTENCY_HEADER

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://crm.example/problems/"


class ProblemError(Exception):
    """An error answered as a problem. Subclasses fix status, title and type; so can callers:

    ``ProblemError("Try later.", status=429, headers={"Retry-After": "5"})``
    Extra keyword arguments become extension members of the body.
    """

    status: int = 500
    title: str = "Internal Server Error"
    type: str = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        type: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        if status is not None:
            self.status, self.title = status, title or status_phrase(status)
        elif title is not None:
            self.title = title
        self.type = type or self.type
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions
        super().__init__(detail or self.title)


class BadRequest(ProblemError):
    status, title, type = 400, "Bad Request", TYPE_BASE + "bad-request"


class Unauthorized(ProblemError):
    status, title, type = 401, "Unauthorized", TYPE_BASE + "unauthorized"


class Forbidden(ProblemError):
    status, title, type = 403, "Forbidden", TYPE_BASE + "forbidden"


class NotFound(ProblemError):
    status, title, type = 404, "Not Found", TYPE_BASE + "not-found"


class Conflict(ProblemError):
    status, title, type = 409, "Conflict", TYPE_BASE + "conflict"


class InvalidState(Conflict):
    """The resource exists, but its state does not allow the command (a closed ticket, ...)."""

    type = TYPE_BASE + "invalid-state"


class VersionConflict(Conflict):
    """The client's expected version is stale; the body names the current one to retry with."""

    type = TYPE_BASE + "version-conflict"

    def __init__(self, current_version: int, detail: str | None = None, **extensions: Any) -> None:
        detail = detail or f"The resource is at version {current_version}; reload and retry."
        super().__init__(detail, current_version=current_version, **extensions)


class Gone(ProblemError):
    """The person was erased: nothing about them can be shown or changed any more."""

    status, title, type = 410, "Gone", TYPE_BASE + "erased"


class MergedRedirect(ProblemError):
    """The record was merged into another, which answers for both (until an unmerge)."""

    status, title, type = 307, "Temporary Redirect", TYPE_BASE + "merged"


class PreconditionFailed(ProblemError):
    status, title, type = 412, "Precondition Failed", TYPE_BASE + "precondition-failed"


class UnprocessableEntity(ProblemError):
    status, title, type = 422, "Unprocessable Content", TYPE_BASE + "validation"

    @classmethod
    def for_field(cls, field: str, detail: str, kind: str = "value_error") -> UnprocessableEntity:
        """One invalid field, named like validation errors: ``body.email``, ``header.If-Match``."""
        return cls(detail, errors=[field_error(field.split("."), detail, kind)])


Unprocessable = UnprocessableEntity  # the shorter name services already use


class PreconditionRequired(ProblemError):
    status, title, type = 428, "Precondition Required", TYPE_BASE + "precondition-required"


class ServiceUnavailable(ProblemError):
    status, title, type = 503, "Service Unavailable", TYPE_BASE + "unavailable"


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_error(location: Sequence[Any], detail: str, kind: str) -> dict[str, Any]:
    """One invalid field: dotted name, and a JSON Pointer when the field is in the body."""
    parts = [str(part) for part in location]
    error = {"field": ".".join(parts), "detail": detail, "type": kind}
    if parts and parts[0] == "body":
        escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts[1:])
        error["pointer"] = "#" + "".join("/" + part for part in escaped)
    return error


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = "about:blank",
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type, "title": title or status_phrase(status), "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if ctx := current_context():
        body["correlation_id"] = ctx.correlation_id
    body |= extensions
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type=exc.type,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
        **exc.extensions,
    )


async def _refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    return await _problem(request, _refusal_problem(exc, request))


def _refusal_problem(error: errors.DomainError, request: Request) -> ProblemError:
    """The problem answering a domain's refusal: the one place refusals become HTTP answers."""
    match error:
        case errors.RecordNotFound():
            return NotFound(str(error))
        case errors.VersionConflict():
            return VersionConflict(error.actual, str(error), record_id=str(error.record_id))
        case errors.InvalidState():
            return InvalidState(str(error))
        case errors.RuleViolation():
            return Unprocessable.for_field(f"{error.location}.{error.field}", error.detail)
        case errors.IdempotencyKeyReused():
            detail = "already used for a different request"
            return Unprocessable.for_field(f"header.{IDEMPOTENCY_HEADER}", detail)
        case errors.RecordErased():
            return Gone(str(error), erased_at=error.erased_at.isoformat())
        case errors.RecordMerged():
            location = {"Location": _survivor_url(request, error)}
            return MergedRedirect(str(error), headers=location, survivor_id=str(error.survivor_id))
    return Conflict(str(error))


def _survivor_url(request: Request, merged: errors.RecordMerged) -> str:
    """The request's URL with the merged record's id replaced by the survivor's."""
    path = request.url.path.replace(str(merged.record_id), str(merged.survivor_id), 1)
    return str(request.url.replace(path=path))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    invalid = list(exc.errors())
    instance = request.url.path
    for error in invalid:
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            detail = f"The request body is not valid JSON: {reason} at position {error['loc'][-1]}."
            return problem_response(
                400, detail=detail, type=TYPE_BASE + "malformed-body", instance=instance
            )
        if tuple(error["loc"]) == ("body",) and isinstance(error.get("input"), bytes):
            # FastAPI hands over the raw bytes when the content type is not JSON.
            detail = "Send the request body as application/json."
            return problem_response(
                415, detail=detail, type=TYPE_BASE + "unsupported-media-type", instance=instance
            )
    return problem_response(
        422,
        "Unprocessable Content",
        "The request has invalid fields; see errors.",
        type=TYPE_BASE + "validation",
        instance=instance,
        errors=[field_error(e["loc"], e["msg"], e["type"]) for e in invalid],
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem_response(
        exc.status_code,
        detail=str(exc.detail),
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Handlers for expected errors; unexpected ones are answered by the request middleware."""
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(errors.DomainError, _refusal)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)


# --- OpenAPI ----------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    field: str = Field(examples=["body.email"], description="Dotted location of the value.")
    pointer: str | None = Field(None, examples=["#/email"], description="JSON Pointer (body).")
    detail: str
    type: str = Field(examples=["missing"], description="Machine-readable error kind.")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", examples=[TYPE_BASE + "validation"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path.")
    errors: list[FieldProblem] | None = None
    correlation_id: str | None = None


_REF = "#/components/schemas/{model}"
_SCHEMAS = models_json_schema([(Problem, "serialization")], ref_template=_REF)[1]["$defs"]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem bodies (apps made by create_api)."""
    return {status: _problem_doc(status) for status in statuses}


def _problem_doc(status: int) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model="Problem")}
    return {"description": status_phrase(status), "content": {PROBLEM_JSON: {"schema": schema}}}


# What the routes of a service's records answer besides success: malformed or unauthenticated
# requests, missing scopes, and the domain's refusals (not found, conflicts, rules broken).
PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 422)


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Add the problem schemas; FastAPI's default 422 (HTTPValidationError) becomes a problem;
    every operation may answer 400 (a query parameter it does not declare: ``web.query``)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_SCHEMAS)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _problem_doc(400))
            content = responses.get("422", {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                responses["422"] = _problem_doc(422)
    if "/HTTPValidationError" not in json.dumps(document["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document
