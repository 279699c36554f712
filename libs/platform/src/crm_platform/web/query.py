"""One rule for the query string of every route: a parameter the route does not declare is
refused with a 400 problem naming it, never ignored (a misspelt filter must not silently list
everything, nor a misspelt option change nothing).

``create_api`` installs it as an application-wide dependency; what a route declares (its own
parameters, its dependencies', by alias) is read once from FastAPI's description of the route.

One exception: the public routes people reach from an e-mail or another site (tracked links,
unsubscribe pages, embedded forms, survey links) take their router's
``dependencies=[Depends(tolerate_unknown_query_parameters)]``. Mail scanners, link shorteners
and site analytics append parameters of their own (``utm_*``, ``gclid``, ``fbclid``...); a
person following such a link must not meet a 400.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from .problems import BadRequest, field_error

_DECLARED = "crm_declared_query_parameters"  # where a route keeps them, once read


def tolerate_unknown_query_parameters() -> None:
    """A marker dependency: the route it is declared on ignores query parameters it does not
    declare (public links and forms, see the module's description)."""


def declared_query_parameters(route: APIRoute) -> frozenset[str] | None:
    """The query parameters ``route`` and its dependencies declare, as a client spells them;
    None when the route tolerates any other."""
    if not hasattr(route, _DECLARED):  # routes are not hashable: no cache of them
        tolerant = _tolerant(route.dependant)
        setattr(route, _DECLARED, None if tolerant else frozenset(_declared(route.dependant)))
    declared: frozenset[str] | None = getattr(route, _DECLARED)
    return declared


def _tolerant(dependant: Dependant) -> bool:
    return any(
        d.call is tolerate_unknown_query_parameters or _tolerant(d) for d in dependant.dependencies
    )


def _declared(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for parameter in dependant.query_params:
        model = parameter.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a Query() model
            names.update(f.alias or name for name, f in model.model_fields.items())
        else:
            names.add(parameter.alias)
    for dependency in dependant.dependencies:
        names |= _declared(dependency)
    return names


def refuse_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = declared_query_parameters(route)
    if known is None:
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise BadRequest(
            f"Unknown query parameters: {', '.join(unknown)}; this operation accepts: {accepted}.",
            errors=[
                field_error(["query", name], "unknown query parameter", "unknown")
                for name in unknown
            ],
        )
