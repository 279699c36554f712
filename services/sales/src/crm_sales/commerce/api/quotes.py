"""HTTP commands and queries on quotes and orders.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm_platform.web.problems import PROBLEM_RESPONSES

from ...shared.api.http import (
    ConditionalBody,
    IdempotencyKey,
    IfMatch,
    Reader,
    Writer,
    answer,
    command,
    show,
)
from ...shared.api.routes import created
from .models import LineOut
from .quote_models import (
    AddLine,
    CancelOrder,
    ChangeQuote,
    DeclineQuote,
    DraftQuote,
    OrderOut,
    PlaceOrder,
    QuoteOut,
    ReviseQuote,
    line_input,
)


def quotes_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/quotes", tags=["quotes"], responses=PROBLEM_RESPONSES)

    def present(quote: Any) -> QuoteOut:
        return QuoteOut.of(quote, application.commerce_today())

    @router.post("", status_code=201, response_model=QuoteOut)
    def draft_quote(
        body: DraftQuote,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> QuoteOut:
        """Draft a quote for an opportunity; lines are priced from the price list unless their
        unit price overrides it (with a reason)."""
        outcome = application.draft_quote(
            command(key, principal, body, operation="draft-quote"),
            opportunity_id=body.opportunity_id,
            customer_id=body.customer_id,
            account_id=body.account_id,
            currency=body.currency,
            price_list_id=body.price_list_id,
            terms=body.terms(),
            lines=[line_input(line) for line in body.lines],
        )
        created(response, request, "get_quote", quote_id=outcome.value.id)
        return answer(response, outcome, present)

    @router.get("/{quote_id}", response_model=QuoteOut)
    def get_quote(quote_id: UUID, response: Response, _: Reader) -> QuoteOut:
        return show(response, application.get_quote(quote_id), present)

    @router.post("/{quote_id}/lines", status_code=201, response_model=QuoteOut)
    def add_line(
        quote_id: UUID,
        body: AddLine,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> QuoteOut:
        """Add a line to a draft; the answer is the whole quote, repriced, and Location names
        the line."""
        outcome = application.add_quote_line(
            quote_id,
            command(
                key,
                principal,
                body,
                operation="add-quote-line",
                target=quote_id,
                if_match=if_match,
            ),
            line_input(body),
        )
        line_id = list(outcome.value.lines)[-1]  # the quote as this command left it
        created(response, request, "get_quote_line", quote_id=quote_id, line_id=line_id)
        return answer(response, outcome, present)

    @router.get("/{quote_id}/lines/{line_id}", response_model=LineOut)
    def get_quote_line(quote_id: UUID, line_id: UUID, _: Reader) -> LineOut:
        return LineOut.of(application.get_quote(quote_id).line(line_id))

    @router.delete("/{quote_id}/lines/{line_id}", response_model=QuoteOut)
    def remove_line(
        quote_id: UUID,
        line_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> QuoteOut:
        """Remove a line from a draft."""
        outcome = application.remove_quote_line(
            quote_id,
            line_id,
            command(
                key,
                principal,
                None,
                operation=f"remove-quote-line:{line_id}",
                target=quote_id,
                if_match=if_match,
            ),
        )
        return answer(response, outcome, present)

    @router.patch("/{quote_id}", response_model=QuoteOut)
    def change_quote(
        quote_id: UUID,
        body: ChangeQuote,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> QuoteOut:
        """Change a draft's validity, tax rates, jurisdiction or discount."""
        outcome = application.change_quote_terms(
            quote_id,
            command(
                key,
                principal,
                body,
                operation="change-quote",
                target=quote_id,
                if_match=if_match,
            ),
            body.changes(),
        )
        return answer(response, outcome, present)

    def transition(name: str, operation: str, summary: str) -> None:
        """POST /quotes/{id}/<name>: a change that takes nothing but the version it expects."""

        def route(
            quote_id: UUID,
            response: Response,
            principal: Writer,
            key: IdempotencyKey,
            if_match: IfMatch = None,
            body: ConditionalBody | None = None,
        ) -> QuoteOut:
            outcome = getattr(application, operation)(
                quote_id,
                command(key, principal, body, operation=name, target=quote_id, if_match=if_match),
            )
            return answer(response, outcome, present)

        router.add_api_route(
            f"/{{quote_id}}/{name}",
            route,
            methods=["POST"],
            response_model=QuoteOut,
            name=f"{name}_quote",
            summary=summary,
        )

    transition("issue", "issue_quote", "Issue a draft (a revision supersedes what it revises)")
    transition("accept", "accept_quote", "The customer accepts an issued, unexpired quote")

    @router.post("/{quote_id}/decline", response_model=QuoteOut)
    def decline_quote(
        quote_id: UUID,
        body: DeclineQuote,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> QuoteOut:
        """The customer declines an issued, unexpired quote."""
        outcome = application.decline_quote(
            quote_id,
            command(
                key,
                principal,
                body,
                operation="decline-quote",
                target=quote_id,
                if_match=if_match,
            ),
            reason=body.reason,
        )
        return answer(response, outcome, present)

    @router.post("/{quote_id}/revisions", status_code=201, response_model=QuoteOut)
    def revise_quote(
        quote_id: UUID,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        body: ReviseQuote | None = None,
    ) -> QuoteOut:
        """A new draft copying an issued or declined quote; issuing it supersedes this one."""
        outcome = application.revise_quote(
            quote_id,
            command(key, principal, body, operation="revise-quote", target=quote_id),
            valid_until=None if body is None else body.valid_until,
        )
        created(response, request, "get_quote", quote_id=outcome.value.id)
        return answer(response, outcome, present)

    return router


def orders_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/orders", tags=["orders"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=OrderOut)
    def place_order(
        body: PlaceOrder,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> OrderOut:
        """Place the order of an accepted quote (one per quote), its lines and totals copied."""
        outcome = application.place_order(
            body.quote_id, command(key, principal, body, operation="place-order")
        )
        created(response, request, "get_order", order_id=outcome.value.id)
        return answer(response, outcome, OrderOut.of)

    @router.get("/{order_id}", response_model=OrderOut)
    def get_order(order_id: UUID, response: Response, _: Reader) -> OrderOut:
        return show(response, application.get_order(order_id), OrderOut.of)

    @router.post("/{order_id}/fulfil", response_model=OrderOut)
    def fulfil_order(
        order_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
        body: ConditionalBody | None = None,
    ) -> OrderOut:
        """Everything ordered was delivered."""
        outcome = application.fulfil_order(
            order_id,
            command(
                key,
                principal,
                body,
                operation="fulfil-order",
                target=order_id,
                if_match=if_match,
            ),
        )
        return answer(response, outcome, OrderOut.of)

    @router.post("/{order_id}/cancel", response_model=OrderOut)
    def cancel_order(
        order_id: UUID,
        body: CancelOrder,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> OrderOut:
        """Cancel a placed order that is not invoiced."""
        outcome = application.cancel_order(
            order_id,
            command(
                key,
                principal,
                body,
                operation="cancel-order",
                target=order_id,
                if_match=if_match,
            ),
            reason=body.reason,
        )
        return answer(response, outcome, OrderOut.of)

    return router
