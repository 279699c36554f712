"""Public endpoints, reached from recipients' mail clients and from web pages, without tokens.

- ``GET /t/o/{token}.gif``: the open-tracking pixel.
- ``GET /t/c/{token}``: a tracked link: records the click, redirects to the campaign's URL for
  the link named inside the signed token, and nowhere else (no open redirect).
- ``GET /t/u/{token}``: a page asking to confirm (link scanners fetch GETs: a GET never
  unsubscribes); ``POST /t/u/{token}``: unsubscribe at once, also RFC 8058's one-click POST.
- ``POST /forms/{campaign_id}``: web-to-lead. Abuse is kept down by a size limit, the platform's
  rate limit per client address (``crm_platform.web.rate_limit``, shared by every replica), and
  a honeypot field that people never see and bots fill in; everything else is validated like
  any command.

Every token is signed (``application.tokens``): a forged or altered one is answered 404.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID, uuid4

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crm_platform.web import public_forms
from crm_platform.web.problems import NotFound, ProblemError, Unprocessable, problem_responses
from crm_platform.web.query import tolerate_unknown_query_parameters
from crm_platform.web.rate_limit import RateLimit

from ..application import MarketingApplication
from ..application.tokens import CLICK, OPEN, UNSUBSCRIBE, InvalidToken, TokenSigner
from ..domain import Respondent
from .models import EMAIL

# A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
MAX_FORM_BYTES = 16 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "application/json")


class WebLead(BaseModel):
    """A web form's fields. The honeypot is checked before this model is built."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str | None = Field(default=None, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    company: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=2000)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    submission_id: UUID | None = Field(
        default=None,
        description="Chosen by the page: a resubmitted form is recorded once (the first stands).",
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address")
        return value.lower()

    @field_validator("given_name", "phone", "company", "message", "country", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


def public_router(application: MarketingApplication, signer: TokenSigner) -> APIRouter:
    router = APIRouter(
        tags=["public"],
        responses=problem_responses(400, 404, 413, 415, 422, 429),
        dependencies=[Depends(tolerate_unknown_query_parameters)],
    )

    def message_of(purpose: str, token: str) -> tuple[UUID, str]:
        try:
            return signer.verify(purpose, token)
        except InvalidToken:
            raise NotFound("unknown or invalid link") from None

    @router.get("/t/o/{token}.gif", response_class=Response)
    def open_pixel(token: str) -> Response:
        message_id, _ = message_of(OPEN, token)
        application.record_open(message_id)
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    @router.get("/t/c/{token}", response_class=RedirectResponse, status_code=302)
    def click(token: str) -> RedirectResponse:
        message_id, link = message_of(CLICK, token)
        url = application.record_click(message_id, link)
        return RedirectResponse(url, status_code=302, headers=NO_STORE)

    @router.get("/t/u/{token}", response_class=HTMLResponse)
    def unsubscribe_page(token: str) -> HTMLResponse:
        message_of(UNSUBSCRIBE, token)
        return HTMLResponse(
            "<!doctype html><title>Unsubscribe</title>"
            '<form method="post"><p>Stop receiving these e-mails?</p>'
            '<button type="submit">Unsubscribe</button></form>',
            headers=NO_STORE,
        )

    @router.post("/t/u/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, request: Request) -> HTMLResponse:
        """Honoured at once, whatever the body (RFC 8058 sends ``List-Unsubscribe=One-Click``)."""
        message_id, _ = message_of(UNSUBSCRIBE, token)
        body = await _bounded_body(request, MAX_FORM_BYTES)
        one_click = b"List-Unsubscribe=One-Click" in body
        await anyio.to_thread.run_sync(
            lambda: application.unsubscribe(message_id, one_click=one_click)
        )
        return HTMLResponse(
            "<!doctype html><title>Unsubscribed</title><p>You are unsubscribed.</p>",
            headers=NO_STORE,
        )

    @router.post(
        "/forms/{campaign_id}", status_code=202, dependencies=[Depends(RateLimit("marketing-form"))]
    )
    async def web_to_lead(campaign_id: UUID, request: Request) -> dict[str, str]:
        """A web form's submission: a ``form_submission`` response, a lead for sales."""
        fields = _form_fields(request, await _bounded_body(request, MAX_FORM_BYTES))
        if public_forms.caught(fields):
            return {"status": "accepted"}  # a bot: answer as usual, record nothing
        try:
            lead = WebLead.model_validate(fields)
        except ValidationError as error:
            raise _unprocessable(error) from None
        respondent = Respondent(
            **lead.model_dump(include={"given_name", "family_name", "email", "phone", "company"})
        )
        answers = {k: v for k, v in lead.model_dump(include={"message", "country"}).items() if v}
        submission_id = lead.submission_id or uuid4()
        await anyio.to_thread.run_sync(
            lambda: application.receive_form(submission_id, campaign_id, respondent, answers)
        )
        return {"status": "accepted"}

    return router


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes (declared or actually sent)."""
    declared = request.headers.get("content-length")
    too_large = ProblemError(f"At most {limit} bytes.", status=413)
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _form_fields(request: Request, body: bytes) -> dict[str, Any]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in FORM_TYPES:
        raise ProblemError(f"Send one of {', '.join(FORM_TYPES)}.", status=415)
    try:
        if media_type == "application/json":
            fields = json.loads(body)
            if not isinstance(fields, Mapping):
                raise ValueError("not an object")
            return dict(fields)
        parsed = parse_qs(
            body.decode(), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=20
        )
    except (ValueError, UnicodeDecodeError):
        raise Unprocessable.for_field("body", "not a well-formed form") from None
    repeated = [name for name, values in parsed.items() if len(values) > 1]
    if repeated:
        raise Unprocessable.for_field(f"body.{repeated[0]}", "given more than once")
    return {name: values[0] for name, values in parsed.items()}


def _unprocessable(error: ValidationError) -> Unprocessable:
    first = error.errors()[0]
    field = ".".join(str(part) for part in ("body", *first["loc"]))
    return Unprocessable.for_field(field, first["msg"], first["type"])
