"""The public web-to-lead endpoint: a website's contact form posts here, without a token.

Being public, it defends itself: a token bucket per client address limits the rate (answered with
429 and Retry-After), the body is read up to a size limit (413), a honeypot field that people
never see but form-filling bots do silently accepts and drops the submission, and validation is
strict (unknown fields are refused). It answers 202 whatever it does with a submission it takes,
so a bot learns nothing. Behind a reverse proxy, run the server so that the client address is
the visitor's (uvicorn's --forwarded-allow-ips); buckets are per process.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
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

from ..application.commands import Command, LeadDetails
from ..domain.leads import LeadSource
from .lead_models import LeadContact, Text

log = logging.getLogger(__name__)

ACTOR = "web-to-lead"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
UTM_TAGS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class WebToLeadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_WEB_TO_LEAD_", extra="ignore")

    burst: int = Field(default=5, ge=1, description="Submissions a client may send at once")
    per_minute: float = Field(default=6, gt=0, description="Sustained submissions per client")
    max_body_bytes: int = Field(default=16_384, ge=1024)
    max_clients: int = Field(default=100_000, ge=1, description="Buckets kept (least recent go)")


class TokenBuckets:
    """A token bucket per client: ``capacity`` tokens, refilled at ``rate`` per second; each
    request takes one. Memory is bounded: the least recently seen clients are forgotten."""

    def __init__(
        self,
        capacity: int,
        rate: float,
        *,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the client may proceed (a token was taken), else seconds until it may."""
        with self._lock:
            now = self.clock()
            tokens, updated = self._buckets.pop(client, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - updated) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


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


class TooManyRequests(ProblemError):
    status, title = 429, "Too Many Requests"


def web_to_lead_router(application: Any, settings: WebToLeadSettings | None = None) -> APIRouter:
    settings = settings or WebToLeadSettings()
    buckets = TokenBuckets(
        settings.burst, settings.per_minute / 60, max_clients=settings.max_clients
    )
    router = APIRouter(
        tags=["web-to-lead"], dependencies=[Depends(tolerate_unknown_query_parameters)]
    )

    @router.post(
        "/web-to-lead",
        status_code=202,
        response_model=Accepted,
        responses=problem_responses(400, 413, 415, 422, 429),
        openapi_extra={"requestBody": _documented_body()},
    )
    async def web_to_lead(request: Request, key: OptionalIdempotencyKey = None) -> Accepted:
        """Capture a lead from a public web form (no token). Send an Idempotency-Key to make
        resubmissions safe; otherwise every submission is a new lead."""
        client = request.client.host if request.client else "unknown"
        if wait := buckets.take(client):
            raise TooManyRequests(
                "Too many submissions; try again later.",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        submitted = _decode(await _read_limited(request, settings.max_body_bytes), request)
        if public_forms.caught(submitted):
            log.info("web-to-lead: honeypot filled by %s, submission dropped", client)
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
