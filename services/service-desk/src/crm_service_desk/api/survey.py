"""The satisfaction survey, answered by the customer through the signed link of the resolution
mail (``application.outbound.SurveyLinks``): public routes, no token; the link is the proof.

The answer is the ticket's ``rate`` command, run like every other (``change_ticket``, a receipt
per command). Its id derives from the link and the answer: the same answer sent again is
replayed, another answer after the first is refused (409: a ticket is rated once).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from crm_platform.web.auth import Principal
from crm_platform.web.commands import answer, command
from crm_platform.web.idempotency import request_fingerprint
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import ServiceDeskApplication, TicketCommand, TicketView
from ..application.outbound import InvalidToken, SurveyLinks
from ..contracts import SOURCE_SERVICE
from ..domain import RecordNotFound, Ticket
from .models import RateTicket

# Who answers a survey, as the command pipeline names its actor (the rating is the customer's).
CUSTOMER = Principal(subject="survey", scopes=frozenset())


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


def survey_router(app: ServiceDeskApplication, links: SurveyLinks) -> APIRouter:
    router = APIRouter(prefix="/survey", tags=["survey"], responses=PROBLEM_RESPONSES)

    def ticket_of(token: str) -> UUID:
        try:
            return links.ticket_of(token)
        except InvalidToken:
            raise RecordNotFound("survey", token) from None

    @router.get("/{token}", response_model=SurveyOut)
    def survey(token: str) -> SurveyOut:
        """What the survey page shows: the ticket it is about, and whether it is answered."""
        return SurveyOut.of(app.get_ticket(ticket_of(token)))

    @router.post("/{token}", response_model=SurveyOut)
    def answer_survey(token: str, body: SurveyAnswer, response: Response) -> SurveyOut:
        """Record the customer's rating (once per ticket, after its resolution)."""
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

    return router
