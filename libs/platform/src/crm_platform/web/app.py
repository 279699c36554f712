"""The FastAPI application every service builds: problems, request context, auth, health, tracing,
Prometheus metrics (``/metrics``: the process's registry, unauthenticated as scrapers expect), the
front door's rules (``front_door``) and the public routes' rate limiter (``rate_limit``)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..context import CommandContext, command_context
from ..failures import is_transient
from ..liveness import REGISTRY, Check
from ..metrics import HTTP_DURATION, HTTP_REQUESTS
from ..settings import AuthSettings, RequestLimitSettings
from .auth import TokenVerifier
from .boundary import BoundaryMiddleware, document_body_limit
from .conditional import IF_MATCH_HEADER
from .front_door import FrontDoorMiddleware, FrontDoorSettings
from .idempotency import IDEMPOTENCY_HEADER
from .problems import (
    document_problems,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from .query import refuse_unknown_query_parameters
from .rate_limit import HitCounter

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_KEY = CORRELATION_HEADER.lower().encode()
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # safe to echo and to store in events
# Probes and scrapes: neither traced nor counted, they would drown the requests of users.
OPERATIONAL_PATHS = ("/healthz", "/readyz", "/metrics")
UNMATCHED_ROUTE = "unmatched"  # the route label of requests no route took (404s), never the path


class HttpMetricsMiddleware:
    """Counts and times each request by method, route template and status code.

    The template (``/customers/{customer_id}``) keeps the series few; a raw path would make one
    per customer. Outermost but for tracing, so its time includes every other middleware.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATIONAL_PATHS:
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_DURATION.labels(self.service, method, route).observe(time.perf_counter() - started)


class RequestContextMiddleware:
    """Runs each request in a CommandContext, echoes its correlation id, answers crashes with 500.

    Unexpected errors are caught here rather than by Starlette's outermost handler, so their
    problem body and log line still carry the request's correlation id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = _request_context(scope)
        echoed = (_CORRELATION_KEY, ctx.correlation_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        with command_context(ctx):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                if started:
                    raise
                trace.get_current_span().record_exception(error)
                await _failure_response(scope, error)(scope, receive, send_with_id)


def _failure_response(scope: Scope, error: Exception) -> Response:
    """A server this process needs being away is the 503 a client may retry; anything else is
    a defect, answered 500 and logged with its traceback."""
    if is_transient(error):
        log.warning("a server is away on %s %s: %r", scope["method"], scope["path"], error)
        return problem_response(
            503,
            detail="A server this service needs does not answer; try again later.",
            instance=scope["path"],
            headers={"Retry-After": "5"},
        )
    log.exception("unhandled error on %s %s", scope["method"], scope["path"], exc_info=error)
    return problem_response(500, detail="An unexpected error occurred.", instance=scope["path"])


def _request_context(scope: Scope) -> CommandContext:
    given = next((v for k, v in scope["headers"] if k == _CORRELATION_KEY), b"").decode("latin-1")
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the server span the OpenTelemetry middleware opened
    return CommandContext(
        correlation_id=given if _VALID_ID.fullmatch(given) else str(uuid.uuid4()),
        causation_id=f"request:{uuid.uuid4()}",
        traceparent=carrier.get("traceparent"),
        tracestate=carrier.get("tracestate"),
    )


def _operational_router(readiness: Mapping[str, Check]) -> APIRouter:
    """Liveness, readiness and metrics: for the orchestrator and the scraper, not for users.
    Health answers come from the process's registry (``liveness``), as a relay's or a worker's."""
    router = APIRouter(tags=["health"])

    @router.get(
        "/healthz",
        summary="Liveness: the process answers and no part of it died",
        responses=problem_responses(503),
    )
    async def healthz(request: Request) -> Any:
        return _health_answer(request, *REGISTRY.liveness())

    @router.get(
        "/readyz",
        summary="Readiness: the servers this process needs answer, and its parts keep up",
        responses=problem_responses(503),
    )
    async def readyz(request: Request) -> Any:
        return _health_answer(request, *await REGISTRY.readiness(readiness))

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def _health_answer(request: Request, ok: bool, body: dict[str, Any]) -> Response:
    if ok:
        return JSONResponse(body)
    problem = dict(body)
    status, title = problem.pop("status"), problem.pop("title")
    detail, kind = problem.pop("detail"), problem.pop("type")
    return problem_response(status, title, detail, type=kind, instance=request.url.path, **problem)


def _document_problems(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_body_limit(document_problems(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_api(
    *,
    title: str,
    service: str,
    routers: Sequence[APIRouter],
    readiness: Mapping[str, Check] | None = None,
    version: str = "0.1.0",
    description: str = "",
    lifespan: Any = None,
    settings: AuthSettings | None = None,
    limits: RequestLimitSettings | None = None,
    front_door: FrontDoorSettings | None = None,
    hit_counter: HitCounter | None = None,
) -> FastAPI:
    """A service's API: its routers plus /healthz and /readyz (``readiness``: name -> check).

    ``settings`` configures bearer tokens, ``limits`` what a request may cost, ``front_door``
    proxies, CORS and the public base URL (default: all from the environment). ``hit_counter``
    counts the public routes' requests (``rate_limit``); it is closed with the app. Every route
    refuses query parameters it does not declare (``query``).
    """
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=_closing(lifespan, hit_counter),
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    app.state.service = service
    app.state.hit_counter = hit_counter
    app.state.token_verifier = TokenVerifier(settings or AuthSettings())
    install_problem_handlers(app)
    app.include_router(_operational_router(dict(readiness or {})))
    for router in routers:
        app.include_router(router)
    _document_problems(app)
    # Inside the request context (its refusals carry the correlation id), outside the routes,
    # so no dependency (the token check) runs before the body is bounded and checked.
    app.add_middleware(
        BoundaryMiddleware,
        limits=limits or RequestLimitSettings(),
        stored_headers=(CORRELATION_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER),
    )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(HttpMetricsMiddleware, service=service)
    _add_front_door(app, front_door or FrontDoorSettings())
    # Wraps the whole middleware stack: the server span is open when the context is built.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=",".join(f"{path}$" for path in OPERATIONAL_PATHS)
    )
    return app


def _add_front_door(app: FastAPI, settings: FrontDoorSettings) -> None:
    """CORS inside the front door, so the client is resolved and every answer (a refused
    preflight too) carries the security headers."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                CORRELATION_HEADER,
                IDEMPOTENCY_HEADER,
                IF_MATCH_HEADER,
            ],
            expose_headers=["ETag", "Location", "Link", "Retry-After", CORRELATION_HEADER],
            max_age=600,
        )
    app.add_middleware(FrontDoorMiddleware, settings=settings)


def _closing(lifespan: Any, hit_counter: HitCounter | None) -> Any:
    """``lifespan``, then the hit counter's connections closed."""

    @asynccontextmanager
    async def closing(app: FastAPI) -> AsyncIterator[None]:
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            if hit_counter is not None:
                hit_counter.close()

    return closing
