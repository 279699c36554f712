"""HTTP commands and queries on quotes and orders."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from crm_platform.web.problems import PROBLEM_RESPONSES

from ...shared.api.http import ConditionalBody, Reader
from ...shared.api.routes import Located, at, command_route, create_route, read_route
from . import quote_models
from .models import LineOut


def quotes_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/quotes", tags=["quotes"], responses=PROBLEM_RESPONSES)
    quote = "/{quote_id}"

    def present(found: Any) -> quote_models.QuoteOut:
        return quote_models.QuoteOut.of(found, application.commerce_today())

    def change(
        method: str, path: str, run: Any, *, name: str, operation: str, **route: Any
    ) -> None:
        """A command on the quote of the path, answered with the whole quote."""
        command_route(
            router,
            method,
            quote + path,
            quote_models.QuoteOut,
            lambda cmd, ids, body: run(ids["quote_id"], cmd, ids, body),
            name=name,
            operation=operation,
            present=present,
            target="quote_id",
            **route,
        )

    create_route(
        router,
        quote_models.QuoteOut,
        lambda cmd, _, body: application.draft_quote(
            cmd,
            **body.model_dump(
                include={"opportunity_id", "customer_id", "currency", "price_list_id"}
            ),
            account_id=body.organization(),
            terms=body.terms(),
            lines=[quote_models.line_input(line) for line in body.lines],
        ),
        at("get_quote", "quote_id"),
        name="draft_quote",
        operation="draft-quote",
        present=present,
        body=quote_models.DraftQuote,
        doc="Draft a quote for an opportunity; lines are priced from the price list unless their\n"
        "unit price overrides it (with a reason).",
    )
    read_route(
        router,
        quote,
        quote_models.QuoteOut,
        lambda ids: application.get_quote(ids["quote_id"]),
        name="get_quote",
        principal=Reader,
        present=present,
    )
    change(
        "POST",
        "/lines",
        lambda quote_id, cmd, _, body: application.add_quote_line(
            quote_id, cmd, quote_models.line_input(body)
        ),
        name="add_line",
        operation="add-quote-line",
        body=quote_models.AddLine,
        status_code=201,
        # The line added is the last of the quote as this command left it.
        location=Located(
            "get_quote_line",
            lambda added, ids: {"quote_id": ids["quote_id"], "line_id": list(added.lines)[-1]},
        ),
        doc="Add a line to a draft; the answer is the whole quote, repriced, and Location names\n"
        "the line.",
    )

    @router.get(f"{quote}/lines/{{line_id}}", response_model=LineOut)
    def get_quote_line(quote_id: UUID, line_id: UUID, _: Reader) -> LineOut:
        return LineOut.of(application.get_quote(quote_id).line(line_id))

    change(
        "DELETE",
        "/lines/{line_id}",
        lambda quote_id, cmd, ids, _: application.remove_quote_line(quote_id, ids["line_id"], cmd),
        name="remove_line",
        operation="remove-quote-line:{line_id}",
        doc="Remove a line from a draft.",
    )
    change(
        "PATCH",
        "",
        lambda quote_id, cmd, _, body: application.change_quote_terms(
            quote_id, cmd, body.changes()
        ),
        name="change_quote",
        operation="change-quote",
        body=quote_models.ChangeQuote,
        doc="Change a draft's validity, tax rates, jurisdiction or discount.",
    )
    for action, run, summary in (
        ("issue", "issue_quote", "Issue a draft (a revision supersedes what it revises)"),
        ("accept", "accept_quote", "The customer accepts an issued, unexpired quote"),
    ):
        change(
            "POST",
            f"/{action}",
            lambda quote_id, cmd, _, __, run=run: getattr(application, run)(quote_id, cmd),
            name=f"{action}_quote",
            operation=action,
            body=ConditionalBody,
            optional_body=True,
            summary=summary,
        )
    change(
        "POST",
        "/decline",
        lambda quote_id, cmd, _, body: application.decline_quote(quote_id, cmd, reason=body.reason),
        name="decline_quote",
        operation="decline-quote",
        body=quote_models.DeclineQuote,
        doc="The customer declines an issued, unexpired quote.",
    )
    change(
        "POST",
        "/revisions",
        lambda quote_id, cmd, _, body: application.revise_quote(
            quote_id, cmd, valid_until=None if body is None else body.valid_until
        ),
        name="revise_quote",
        operation="revise-quote",
        body=quote_models.ReviseQuote,
        optional_body=True,
        conditional=False,
        status_code=201,
        location=at("get_quote", "quote_id"),
        doc="A new draft copying an issued or declined quote; issuing it supersedes this one.",
    )
    return router


def orders_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/orders", tags=["orders"], responses=PROBLEM_RESPONSES)
    order = "/{order_id}"
    create_route(
        router,
        quote_models.OrderOut,
        lambda cmd, _, body: application.place_order(body.quote_id, cmd),
        at("get_order", "order_id"),
        name="place_order",
        operation="place-order",
        body=quote_models.PlaceOrder,
        doc="Place the order of an accepted quote (one per quote), its lines and totals copied.",
    )
    read_route(
        router,
        order,
        quote_models.OrderOut,
        lambda ids: application.get_order(ids["order_id"]),
        name="get_order",
        principal=Reader,
    )
    command_route(
        router,
        "POST",
        f"{order}/fulfil",
        quote_models.OrderOut,
        lambda cmd, ids, _: application.fulfil_order(ids["order_id"], cmd),
        name="fulfil_order",
        operation="fulfil-order",
        target="order_id",
        body=ConditionalBody,
        optional_body=True,
        doc="Everything ordered was delivered.",
    )
    command_route(
        router,
        "POST",
        f"{order}/cancel",
        quote_models.OrderOut,
        lambda cmd, ids, body: application.cancel_order(ids["order_id"], cmd, reason=body.reason),
        name="cancel_order",
        operation="cancel-order",
        target="order_id",
        body=quote_models.CancelOrder,
        doc="Cancel a placed order that is not invoiced.",
    )
    return router
