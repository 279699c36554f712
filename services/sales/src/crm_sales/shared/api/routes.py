"""Routes of sales commands and reads, each declared as one call instead of a function apiece.

Every command route takes the same things (the record's ids in the path, a body, the caller, an
Idempotency-Key and, when conditional, If-Match), runs one application command through the
platform's pipeline and answers the record it left; only the command and its scope differ. So a
route is declared by what differs, and the endpoint FastAPI sees is built with the signature a
hand-written one would have (the OpenAPI document cannot tell them apart).

    command_route(router, "POST", "/{lead_id}/qualify", LeadOut,
                  lambda cmd, ids, body: app.qualify_lead(cmd, ids["lead_id"]),
                  name="qualify_lead", operation="qualify-lead", target="lead_id",
                  body=Transition, optional_body=True, doc="New or disqualified -> qualified.")
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from crm_platform.commands import Command, Outcome

from .http import IdempotencyKey, IfMatch, Writer, answer, command, show

Ids = Mapping[str, UUID]  # the path's parameters: every one is a record's id
Run = Callable[[Command, Ids, Any], Outcome[Any]]
Present = Callable[[Any], BaseModel]

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Located:
    """Where a command route's 201 Created points: the route reading what the command made."""

    route: str
    params: Callable[[Any, Ids], Mapping[str, Any]]


def at(route: str, param: str) -> Located:
    """The new record itself, read by ``route`` with its id as ``param``."""
    return Located(route, lambda record, _: {param: record.id})


def calling(
    application: Any, command: str, record: str, arguments: Callable[[Any], Mapping[str, Any]]
) -> Run:
    """Run the application's ``command`` on the record the path parameter ``record`` names, with
    the ``arguments`` the body gives."""

    def run(cmd: Command, ids: Ids, body: Any) -> Outcome[Any]:
        outcome: Outcome[Any] = getattr(application, command)(cmd, ids[record], **arguments(body))
        return outcome

    return run


def created(response: Response, request: Request, route: str, **params: Any) -> None:
    """201 Created's Location: the URL of ``route`` for ``params``."""
    response.headers["Location"] = str(
        request.url_for(route, **{k: str(v) for k, v in params.items()})
    )


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(name, kind, annotation=annotation, default=default)


def _of(out: type[BaseModel]) -> Present:
    """The response model's ``of``: how every sales response model presents its record."""
    present: Present = out.of  # type: ignore[attr-defined]  # not on BaseModel, on each model
    return present


def _endpoint(name: str, call: Callable[..., Any], parameters: list[Any]) -> Callable[..., Any]:
    """``call`` under ``name``, declaring ``parameters`` to FastAPI (a ``def``: the thread pool
    runs it, as the eventsourcing library is synchronous)."""

    def endpoint(**arguments: Any) -> Any:
        return call(**arguments)

    endpoint.__name__ = name
    # FastAPI reads the parameters a function declares from its signature.
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return endpoint


def command_route(
    router: APIRouter,
    method: str,
    path: str,
    out: type[BaseModel],
    run: Run,
    *,
    name: str,
    operation: str,
    present: Present | None = None,
    body: Any = None,
    optional_body: bool = False,
    principal: Any = Writer,
    target: str | None = None,
    conditional: bool | None = None,
    status_code: int = 200,
    location: Located | None = None,
    doc: str = "",
    summary: str | None = None,
) -> None:
    """Declare a command route. ``operation`` (formatted with the path's ids) and ``target`` (the
    path parameter naming the record changed) scope the commands' ids derived from
    Idempotency-Keys: never rename one. Conditional (If-Match) by default when it has a target."""
    id_names = _PATH_PARAMETER.findall(path)
    parameters = [_parameter(n, UUID) for n in id_names]
    if body is not None and not optional_body:
        parameters.append(_parameter("body", body))
    if location is not None:
        parameters.append(_parameter("request", Request))
    parameters += [
        _parameter("response", Response),
        _parameter("principal", principal),
        _parameter("key", IdempotencyKey),
    ]
    if conditional if conditional is not None else target is not None:
        parameters.append(_parameter("if_match", IfMatch, None))
    if body is not None and optional_body:
        parameters.append(_parameter("body", body | None, None))
    shown = present or _of(out)

    def call(response: Response, **arguments: Any) -> BaseModel:
        ids = {n: arguments[n] for n in id_names}
        given = arguments.get("body")
        cmd = command(
            arguments["key"],
            arguments["principal"],
            given,
            operation=operation.format(**ids),
            target=ids[target] if target else None,
            if_match=arguments.get("if_match"),
        )
        outcome = run(cmd, ids, given)
        if location is not None:
            params = location.params(outcome.value, ids)
            created(response, arguments["request"], location.route, **params)
        return answer(response, outcome, shown)

    router.add_api_route(
        path,
        _endpoint(name, call, parameters),
        methods=[method],
        status_code=status_code,
        response_model=out,
        name=name,
        description=doc,
        summary=summary,
    )


def create_route(
    router: APIRouter, out: type[BaseModel], run: Run, location: Located, **route: Any
) -> None:
    """Declare ``POST`` on the collection: the record made, 201 Created at ``location``."""
    command_route(router, "POST", "", out, run, status_code=201, location=location, **route)


def read_route(
    router: APIRouter,
    path: str,
    out: type[BaseModel],
    load: Callable[[Ids], Any],
    *,
    name: str,
    principal: Any,
    present: Present | None = None,
    doc: str = "",
) -> None:
    """Declare ``GET path``: the record ``load`` finds by the path's ids, with its ETag."""
    id_names = _PATH_PARAMETER.findall(path)
    parameters = [_parameter(n, UUID) for n in id_names]
    parameters += [_parameter("response", Response), _parameter("_", principal)]
    shown = present or _of(out)

    def call(response: Response, **arguments: Any) -> BaseModel:
        return show(response, load({n: arguments[n] for n in id_names}), shown)

    endpoint = _endpoint(name, call, parameters)
    router.add_api_route(
        path, endpoint, methods=["GET"], response_model=out, name=name, description=doc
    )
