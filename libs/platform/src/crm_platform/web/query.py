"""One rule for the query string of every route: a parameter the route does not declare is
refused with a 400 problem naming it, never ignored (a misspelt filter must not silently list
everything, nor a misspelt option change nothing).

``create_api`` installs it as an application-wide dependency; what a route declares (its own
parameters, its dependencies', by alias) is read once from FastAPI's description of the route.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from .problems import BadRequest, field_error

_DECLARED = "crm_declared_query_parameters"  # where a route keeps them, once read


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` and its dependencies declare, as a client spells them."""
    declared: frozenset[str] | None = getattr(route, _DECLARED, None)
    if declared is None:
        declared = frozenset(_declared(route.dependant))
        setattr(route, _DECLARED, declared)  # routes are not hashable: no cache of them
    return declared


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
