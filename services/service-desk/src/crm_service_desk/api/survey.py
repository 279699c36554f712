"""The satisfaction survey, answered by the customer through the signed link of the resolution
mail (``application.outbound.SurveyLinks``): public routes, no token; the link is the proof.

The link opens a page (``GET /survey/{token}/form``) whose form posts the rating; front ends of
their own use the JSON routes (``GET`` and ``POST /survey/{token}``).

The answer is the ticket's ``rate`` command, run like every other (``change_ticket``, a receipt
per command). Its id derives from the link and the answer: the same answer sent again is
replayed, another answer after the first is refused (409: a ticket is rated once).
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError

from crm_platform.web.auth import Principal
from crm_platform.web.commands import answer, command
from crm_platform.web.idempotency import request_fingerprint
from crm_platform.web.problems import PROBLEM_RESPONSES, Unprocessable
from crm_platform.web.query import tolerate_unknown_query_parameters

from ..application import ServiceDeskApplication, TicketCommand, TicketView
from ..application.outbound import InvalidToken, SurveyLinks
from ..contracts import SOURCE_SERVICE
from ..domain import RecordNotFound, Ticket
from .models import RateTicket

# Who answers a survey, as the command pipeline names its actor (the rating is the customer's).
CUSTOMER = Principal(subject="survey", scopes=frozenset())
MAX_FORM_BYTES = 8192  # a rating and a comment of up to 2,000 characters, URL-encoded
NO_STORE = {"Cache-Control": "no-store"}


class SurveyOut(BaseModel):
    reference: str
    subject: str | None = Field(description="Null once the requester was erased.")
    status: str
    rated: bool

    @classmethod
    def of(cls, ticket: TicketView) -> SurveyOut:
        return cls(
            reference=ticket.reference,
            subject=ticket.subject,
            status=ticket.status,
            rated=ticket.rating is not None,
        )


class SurveyAnswer(RateTicket):
    """The rating and an optional comment."""


# The form's body, documented (the route reads it itself: FastAPI's forms need python-multipart).
FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": SurveyAnswer.model_json_schema()}
        },
    }
}


def survey_router(app: ServiceDeskApplication, links: SurveyLinks) -> APIRouter:
    router = APIRouter(
        prefix="/survey",
        tags=["survey"],
        responses=PROBLEM_RESPONSES,
        dependencies=[Depends(tolerate_unknown_query_parameters)],
    )

    def ticket_of(token: str) -> UUID:
        try:
            return links.ticket_of(token)
        except InvalidToken:
            raise RecordNotFound("survey", token) from None

    @router.get("/{token}", response_model=SurveyOut)
    def survey(token: str) -> SurveyOut:
        """What the survey page shows: the ticket it is about, and whether it is answered."""
        return SurveyOut.of(app.get_ticket(ticket_of(token)))

    def rate(token: str, body: SurveyAnswer, response: Response) -> SurveyOut:
        ticket_id = ticket_of(token)
        issued = command(
            request_fingerprint(body),
            CUSTOMER,
            body,
            service=SOURCE_SERVICE,
            operation="survey",
            target=ticket_id,
        )
        change = TicketCommand(Ticket.rate, body.model_dump(exclude={"expected_version"}))
        return answer(response, app.change_ticket(issued, ticket_id, change), SurveyOut.of)

    @router.post("/{token}", response_model=SurveyOut)
    def answer_survey(token: str, body: SurveyAnswer, response: Response) -> SurveyOut:
        """Record the customer's rating (once per ticket, after its resolution)."""
        return rate(token, body, response)

    @router.get("/{token}/form", response_class=HTMLResponse)
    def survey_page(token: str) -> HTMLResponse:
        """The page the resolution mail links to: the ticket, a rating from 1 to 5, a comment."""
        return HTMLResponse(_form(app.get_ticket(ticket_of(token))), headers=NO_STORE)

    @router.post("/{token}/form", response_class=HTMLResponse, openapi_extra=FORM_BODY)
    async def answer_by_form(token: str, request: Request) -> HTMLResponse:
        """The page's form (``application/x-www-form-urlencoded``): the rating recorded as by
        ``POST /survey/{token}``, a page thanking the customer."""
        body = _answer(await _bounded_body(request))
        rated = await anyio.to_thread.run_sync(lambda: rate(token, body, Response()))
        return HTMLResponse(
            f"<!doctype html><title>Thank you</title><p>Thank you: ticket {rated.reference}"
            " is rated.</p>",
            headers=NO_STORE,
        )

    return router


def _form(ticket: TicketView) -> str:
    subject = escape(ticket.subject or "your request")
    if ticket.rating is not None:
        return f"<!doctype html><title>Rated</title><p>{subject}: rated already. Thank you.</p>"
    choices = "".join(
        f'<label><input type="radio" name="rating" value="{n}" required> {n}</label> '
        for n in range(1, 6)
    )
    return (
        f"<!doctype html><title>How did we do?</title><h1>{ticket.reference}: {subject}</h1>"
        f'<form method="post"><p>How satisfied are you (1 to 5)? {choices}</p>'
        '<p><textarea name="comment" maxlength="2000" placeholder="A comment (optional)">'
        '</textarea></p><button type="submit">Send</button></form>'
    )


async def _bounded_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Unprocessable.for_field("body", f"larger than {MAX_FORM_BYTES} bytes")
    return body


def _answer(raw: bytes) -> SurveyAnswer:
    """The form's fields as the JSON route's body (an empty comment is none)."""
    try:
        fields = parse_qs(raw.decode(), strict_parsing=bool(raw), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise Unprocessable.for_field("body", "not a well-formed form") from None
    values = {name: given[-1] for name, given in fields.items()}
    if not values.get("comment", "").strip():
        values.pop("comment", None)
    try:
        return SurveyAnswer.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in ("body", *first["loc"]))
        raise Unprocessable.for_field(field, first["msg"], first["type"]) from None
