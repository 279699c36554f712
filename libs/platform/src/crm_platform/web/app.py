"""The FastAPI application every service builds: problems, auth context, health, tracing."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import propagate
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..context import CommandContext, command_context
from .problems import install_problem_handlers, problem_response

Check = Callable[[], Awaitable[None]]
CORRELATION_HEADER = "x-correlation-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEALTH_PATHS = {"/healthz", "/readyz"}


class CommandContextMiddleware:
    """Gives every request a CommandContext (correlation, causation, trace) and echoes the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        given = headers.get(CORRELATION_HEADER, "")
        correlation = given if _VALID_ID.match(given) else str(uuid.uuid4())
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        ctx = CommandContext(
            correlation_id=correlation,
            causation_id=f"request:{uuid.uuid4()}",
            traceparent=carrier.get("traceparent"),
            tracestate=carrier.get("tracestate"),
        )

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append(
                    (CORRELATION_HEADER.encode(), correlation.encode())
                )
            await send(message)

        with command_context(ctx):
            await self.app(scope, receive, send_with_id)


def _health_router(readiness: dict[str, Check]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: the servers this process needs answer")
    async def readyz(request: Request) -> Any:
        names = list(readiness)
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(readiness[n](), timeout=2.0) for n in names), return_exceptions=True
        )
        checks = {
            n: "ok" if o is None else f"failed: {o!r}" for n, o in zip(names, outcomes, strict=True)
        }
        if all(o is None for o in outcomes):
            return JSONResponse({"status": "ready", "checks": checks})
        return problem_response(
            request, 503, "Service Unavailable", "A dependency is not reachable.", checks=checks
        )

    return router


def create_api(
    *,
    title: str,
    service: str,
    routers: Sequence[APIRouter],
    readiness: dict[str, Check] | None = None,
    version: str = "0.1.0",
    description: str = "",
    lifespan: Any = None,
) -> FastAPI:
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    app.state.service = service
    install_problem_handlers(app)
    app.include_router(_health_router(readiness or {}))
    for router in routers:
        app.include_router(router)
    app.add_middleware(CommandContextMiddleware)
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # Added last, so the server span is open when the context middleware reads the traceparent.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
