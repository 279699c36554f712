"""HTTP commands and queries on tickets.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool. Every command takes an Idempotency-Key (the id of its effect is derived from it)
and may be made conditional with If-Match or ``expected_version``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.conditional import etag, expected_version
from crm_platform.web.idempotency import idempotency_key, idempotent_id, request_fingerprint
from crm_platform.web.pages import Cursor, Limit, decode_cursor, page_after
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import Outcome, ServiceDeskApplication, TicketFilter, TicketView
from ..application.commands import (
    AddNote,
    Assign,
    Close,
    Escalate,
    Rate,
    Reopen,
    Reply,
    Resolve,
    StartWork,
    TicketCommand,
    WaitOnCustomer,
)
from ..domain import Priority, Status
from .models import (
    AssignTicket,
    ChangeStatus,
    CommandBody,
    EscalateTicket,
    MessageOut,
    MessagePageOut,
    OpenTicket,
    PostMessage,
    RateTicket,
    ResolveTicket,
    TicketOut,
    TicketPageOut,
    message_position,
)

REPLAYED_HEADER = "Idempotent-Replayed"
MAX_PAGE = 100

Writer = Annotated[Principal, Depends(require_scopes("service-desk:write"))]
Reader = Annotated[Principal, Depends(require_scopes("service-desk:read"))]
IdempotencyKey = Annotated[str, idempotency_key]
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]


def tickets_router(app: ServiceDeskApplication) -> APIRouter:
    router = APIRouter(prefix="/tickets", tags=["tickets"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=TicketOut)
    def open_ticket(
        body: OpenTicket,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> TicketOut:
        """Open a ticket for a customer; retrying with the same Idempotency-Key and body is safe."""
        ticket_id = idempotent_id(
            key, scope="service-desk:open-ticket", principal=principal.subject
        )
        outcome = app.open_ticket(
            ticket_id,
            customer_id=body.customer_id,
            organization_id=body.organization_id,
            subject=body.subject,
            description=body.description,
            channel=body.channel,
            priority=body.priority,
            category=body.category,
            request_fingerprint=request_fingerprint(body),
        )
        response.headers["Location"] = str(request.url_for("get_ticket", ticket_id=str(ticket_id)))
        return _answer(response, outcome)

    @router.get("", response_model=TicketPageOut)
    def list_tickets(
        _: Reader,
        status: Status | None = None,
        priority: Priority | None = None,
        assignee: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        customer_id: UUID | None = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    ) -> TicketPageOut:
        """The queue: tickets matching every filter given, newest first, a page at a time."""
        where = TicketFilter(
            status=status and status.value,
            priority=priority and priority.value,
            assignee=assignee,
            customer_id=customer_id,
        )
        page = app.list_tickets(where, cursor=cursor, limit=limit)
        return TicketPageOut.model_validate(page)

    @router.get("/{ticket_id}", response_model=TicketOut)
    def get_ticket(ticket_id: UUID, response: Response, _: Reader) -> TicketOut:
        ticket = app.get_ticket(ticket_id)
        response.headers["ETag"] = etag(ticket.version)
        return TicketOut.of(ticket)

    @router.get("/by-reference/{reference}", response_model=TicketOut)
    def get_ticket_by_reference(reference: str, response: Response, _: Reader) -> TicketOut:
        ticket = app.ticket_by_reference(reference)
        response.headers["ETag"] = etag(ticket.version)
        return TicketOut.of(ticket)

    @router.get("/{ticket_id}/messages", response_model=MessagePageOut)
    def list_messages(
        ticket_id: UUID, response: Response, _: Reader, cursor: Cursor = None, limit: Limit = 50
    ) -> MessagePageOut:
        """The ticket's conversation (replies and notes) in time order, page by page."""
        after = decode_cursor(cursor, 1)
        ticket = app.get_ticket(ticket_id)
        response.headers["ETag"] = etag(ticket.version)
        items, next_cursor = page_after(ticket.messages, message_position, after, limit)
        return MessagePageOut(
            ticket_id=ticket.id,
            version=ticket.version,
            items=[MessageOut.model_validate(m) for m in items],
            next_cursor=next_cursor,
        )

    def command(
        path: str,
        model: type[CommandBody],
        to_command: Callable[[Any], TicketCommand],
        summary: str,
    ) -> None:
        """``POST /tickets/{id}/<path>``: one command on a ticket, the same way for all."""

        def run(
            ticket_id: UUID,
            body: CommandBody,
            response: Response,
            principal: Writer,
            key: IdempotencyKey,
            if_match: IfMatch = None,
        ) -> TicketOut:
            # The ticket id is in the scope: command ids stay unique even if a key is reused.
            scope = f"service-desk:{path}:{ticket_id}"
            command_id = idempotent_id(key, scope=scope, principal=principal.subject)
            version = expected_version(if_match, body.expected_version)
            outcome = app.execute(
                ticket_id,
                command_id,
                to_command(body),
                by=principal.subject,
                expected_version=version,
                fingerprint=request_fingerprint(body),
            )
            return _answer(response, outcome)

        run.__name__ = path
        run.__annotations__["body"] = model  # a local name: FastAPI could not resolve the string
        router.add_api_route(
            f"/{{ticket_id}}/{path}",
            run,
            methods=["POST"],
            response_model=TicketOut,
            summary=summary,
            name=path,
        )

    command("assignment", AssignTicket, lambda b: Assign(b.assignee), "Assign to an agent")
    command("start", ChangeStatus, lambda b: StartWork(), "Start (or resume) work on it")
    command(
        "hold",
        ChangeStatus,
        lambda b: WaitOnCustomer(),
        "Wait on the customer: the SLA clocks pause until they answer",
    )
    command(
        "escalation", EscalateTicket, lambda b: Escalate(b.reason, b.escalated_to), "Escalate it"
    )
    command("replies", PostMessage, lambda b: Reply(b.body), "Reply to the customer (public)")
    command(
        "notes",
        PostMessage,
        lambda b: AddNote(b.body),
        "Add an internal note (for agents only, never published)",
    )
    command("resolution", ResolveTicket, lambda b: Resolve(b.resolution), "Resolve it")
    command("reopen", ChangeStatus, lambda b: Reopen(), "Reopen a resolved ticket")
    command("close", ChangeStatus, lambda b: Close(), "Close a resolved ticket for good")
    command(
        "satisfaction",
        RateTicket,
        lambda b: Rate(b.rating, b.comment),
        "Record the customer's satisfaction survey (once, after resolution)",
    )
    return router


def _answer(response: Response, outcome: Outcome[TicketView]) -> TicketOut:
    response.headers["ETag"] = etag(outcome.value.version)
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return TicketOut.of(outcome.value)
