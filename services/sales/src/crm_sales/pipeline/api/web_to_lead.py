"""The public web-to-lead endpoint: a website's contact form posts here, without a token.

Being public, it defends itself: the platform's rate limit per client address, shared by every
replica (``crm_platform.web.rate_limit``: 429 with Retry-After), the body is read up to a size
limit (413), a honeypot field that people never see but form-filling bots do silently accepts
and drops the submission, and validation is strict (unknown fields are refused). It answers 202 whatever it does with a submission it takes,
so a bot learns nothing. Behind a reverse proxy, the client address is the visitor's only when
the proxy is listed in ``CRM_HTTP_TRUSTED_PROXIES`` (``crm_platform.web.front_door``).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from crm_platform.web import public_forms
from crm_platform.web.idempotency import (
    OptionalIdempotencyKey,
    idempotent_id,
    request_fingerprint,
)
from crm_platform.web.problems import (
    BadRequest,
    ProblemError,
    problem_responses,
)
from crm_platform.web.query import tolerate_unknown_query_parameters
from crm_platform.web.rate_limit import RateLimit

from ..application.commands import Command, LeadDetails
from ..domain.leads import LeadSource
from .lead_models import LeadContact, Text

log = logging.getLogger(__name__)

ACTOR = "web-to-lead"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
UTM_TAGS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class WebToLeadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_WEB_TO_LEAD_", extra="ignore")

    max_body_bytes: int = Field(default=16_384, ge=1024)


class WebLeadForm(LeadContact):
    """What a web form may send (as JSON or as a URL-encoded form)."""

    campaign_id: uuid.UUID | None = Field(default=None, description="The campaign of the form")
    utm_source: Text | None = None
    utm_medium: Text | None = None
    utm_campaign: Text | None = None
    utm_term: Text | None = None
    utm_content: Text | None = None

    def details(self) -> LeadDetails:
        values = self.model_dump(exclude={*UTM_TAGS})
        tags = {tag: value for tag in UTM_TAGS if (value := getattr(self, tag))}
        return LeadDetails(**values, fields=tags)


class Accepted(BaseModel):
    """The same answer whatever happened to an accepted submission: a bot learns nothing."""

    status: Literal["accepted"] = "accepted"


class TooLarge(ProblemError):
    status, title = 413, "Content Too Large"


def web_to_lead_router(application: Any, settings: WebToLeadSettings | None = None) -> APIRouter:
    settings = settings or WebToLeadSettings()
    router = APIRouter(
        tags=["web-to-lead"], dependencies=[Depends(tolerate_unknown_query_parameters)]
    )

    @router.post(
        "/web-to-lead",
        status_code=202,
        response_model=Accepted,
        responses=problem_responses(400, 413, 415, 422, 429),
        openapi_extra={"requestBody": _documented_body()},
        dependencies=[Depends(RateLimit("web-to-lead"))],
    )
    async def web_to_lead(request: Request, key: OptionalIdempotencyKey = None) -> Accepted:
        """Capture a lead from a public web form (no token). Send an Idempotency-Key to make
        resubmissions safe; otherwise every submission is a new lead."""
        submitted = _decode(await _read_limited(request, settings.max_body_bytes), request)
        if public_forms.caught(submitted):
            log.info("web-to-lead: honeypot filled by %s, submission dropped", request.client)
            return Accepted()
        try:
            form = WebLeadForm.model_validate(submitted)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
            ) from None
        command = Command(
            command_id=(
                uuid.uuid4()  # every submission a new lead
                if key is None
                else idempotent_id(key, scope="sales:web-to-lead", principal=ACTOR)
            ),
            fingerprint=request_fingerprint(form),
            actor=ACTOR,
        )
        await run_in_threadpool(
            application.capture_lead, command, form.details(), source=LeadSource.WEB_FORM
        )
        return Accepted()

    return router


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it grows past ``limit`` (never read whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The body may have at most {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"The body may have at most {limit} bytes.")
    return bytes(body)


def _decode(raw: bytes, request: Request) -> dict[str, Any]:
    """A JSON object or a URL-encoded form, as a dict of fields (repeated fields refused)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise BadRequest("The body must be a JSON object.")
            return data
        if content_type == FORM_CONTENT_TYPE:
            pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=50)
            if len({name for name, _ in pairs}) != len(pairs):
                raise BadRequest("A form field was sent more than once.")
            return {name: value or None for name, value in pairs}
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise BadRequest(f"The body cannot be decoded: {error}.") from None
    raise ProblemError(f"Send the form as application/json or {FORM_CONTENT_TYPE}.", status=415)


def _documented_body() -> dict[str, Any]:
    schema = WebLeadForm.model_json_schema()
    schema["properties"][public_forms.HONEYPOT] = public_forms.honeypot_schema()
    return {
        "required": True,
        "content": {"application/json": {"schema": schema}, FORM_CONTENT_TYPE: {"schema": schema}},
    }
