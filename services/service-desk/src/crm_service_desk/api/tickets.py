"""HTTP commands and queries on tickets.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool. Every command takes an Idempotency-Key (the platform's command pipeline keeps a
receipt per command) and may be made conditional with If-Match or ``expected_version``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm_platform.web.commands import CommandBody, IfMatch, answer, command, show
from crm_platform.web.idempotency import IdempotencyKey
from crm_platform.web.pages import Cursor, Limit, PageRequest, Paging, paged
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import (
    NewTicket,
    ServiceDeskApplication,
    TicketCommand,
    TicketFilter,
    TicketView,
)
from ..contracts import SOURCE_SERVICE
from ..domain import Category, Priority, Status, Ticket
from .http import Reader, Writer, creation, locate
from .models import (
    AssignTicket,
    ChangeStatus,
    EscalateTicket,
    MessageOut,
    MessagePageOut,
    OpenTicket,
    PostMessage,
    RateTicket,
    ReclassifyTicket,
    ResolveTicket,
    TicketOut,
    TicketPageOut,
    TicketSummaryOut,
    message_position,
    queue_after,
    queue_position,
)

# The commands on a ticket: path, body, the Ticket method it runs (the body's fields are its
# arguments), and summary.
COMMANDS: tuple[tuple[str, type[CommandBody], Callable[..., object], str], ...] = (
    ("assignment", AssignTicket, Ticket.assign, "Assign to an agent"),
    ("start", ChangeStatus, Ticket.start_work, "Start (or resume) work on it"),
    (
        "hold",
        ChangeStatus,
        Ticket.wait_on_customer,
        "Wait on the customer: the SLA clocks pause until they answer",
    ),
    ("escalation", EscalateTicket, Ticket.escalate, "Escalate it"),
    (
        "classification",
        ReclassifyTicket,
        Ticket.reclassify,
        "Change its category or priority (the SLA targets of its opening stay)",
    ),
    ("replies", PostMessage, Ticket.reply, "Reply to the customer (public)"),
    (
        "notes",
        PostMessage,
        Ticket.add_note,
        "Add an internal note (for agents only, never published)",
    ),
    ("resolution", ResolveTicket, Ticket.resolve, "Resolve it"),
    ("reopen", ChangeStatus, Ticket.reopen, "Reopen a resolved ticket"),
    ("close", ChangeStatus, Ticket.close, "Close a resolved ticket for good"),
    (
        "satisfaction",
        RateTicket,
        Ticket.rate,
        "Record the customer's satisfaction survey (once, after resolution)",
    ),
)


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
        ticket_id, issued = creation(key, principal, body, operation="open-ticket")
        outcome = app.open_ticket(issued, ticket_id, NewTicket(**body.model_dump()))
        locate(request, response, "get_ticket", ticket_id=str(ticket_id))
        return answer(response, outcome, TicketOut.of)

    @router.get("", response_model=TicketPageOut)
    def list_tickets(
        request: Request,
        response: Response,
        _: Reader,
        status: Status | None = None,
        priority: Priority | None = None,
        category: Category | None = None,
        assignee: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        customer_id: UUID | None = None,
        customer_known: bool | None = None,
        cursor: Cursor = None,
        limit: Limit = 25,  # the queue's own default page: ``Paging``'s is 50
    ) -> TicketPageOut:
        """The queue: tickets matching every filter given, newest first, a page at a time;
        ``customer_known=false``: those naming a customer no service has heard of."""
        page = PageRequest(request, response, cursor, limit)
        after = queue_after(page.after(2))
        where = TicketFilter(
            status=status and status.value,
            priority=priority and priority.value,
            category=category and category.value,
            assignee=assignee,
            customer_id=customer_id,
            customer_known=customer_known,
        )
        found = app.list_tickets(where, after=after, limit=limit + 1)
        tickets, next_cursor = paged(found, limit, queue_position)
        return TicketPageOut(
            items=[TicketSummaryOut.model_validate(ticket) for ticket in tickets],
            next_cursor=page.following(next_cursor),
        )

    @router.get("/{ticket_id}", response_model=TicketOut)
    def get_ticket(ticket_id: UUID, response: Response, _: Reader) -> TicketOut:
        return show(response, app.get_ticket(ticket_id), TicketOut.of)

    @router.get("/by-reference/{reference}", response_model=TicketOut)
    def get_ticket_by_reference(reference: str, response: Response, _: Reader) -> TicketOut:
        return show(response, app.ticket_by_reference(reference), TicketOut.of)

    @router.get("/{ticket_id}/messages", response_model=MessagePageOut)
    def list_messages(
        ticket_id: UUID, response: Response, _: Reader, page: Paging
    ) -> MessagePageOut:
        """The ticket's conversation (replies and notes) in time order, page by page."""

        def conversation(ticket: TicketView) -> MessagePageOut:
            items, next_cursor = page.of_sorted(ticket.messages, message_position)
            return MessagePageOut(
                ticket_id=ticket.id,
                version=ticket.version,
                items=[MessageOut.model_validate(m) for m in items],
                next_cursor=next_cursor,
            )

        return show(response, app.get_ticket(ticket_id), conversation)

    for path, model, method, summary in COMMANDS:
        _command_route(router, app, path, model, method, summary)
    return router


def _command_route(
    router: APIRouter,
    app: ServiceDeskApplication,
    path: str,
    model: type[CommandBody],
    method: Callable[..., object],
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
        issued = command(
            key,
            principal,
            body,
            service=SOURCE_SERVICE,
            operation=path,
            target=ticket_id,  # command ids stay unique even if a key is reused on another
            if_match=if_match,
        )
        change = TicketCommand(method, body.model_dump(exclude={"expected_version"}))
        return answer(response, app.change_ticket(issued, ticket_id, change), TicketOut.of)

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
