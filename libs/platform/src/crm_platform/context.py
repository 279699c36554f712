"""Who and what caused a command: carried from the HTTP request into the events it records."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CommandContext:
    correlation_id: str
    causation_id: str | None = None
    actor: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    def with_actor(self, actor: str) -> CommandContext:
        return replace(self, actor=actor)


_current: ContextVar[CommandContext | None] = ContextVar("crm_command_context", default=None)


def current_context() -> CommandContext | None:
    return _current.get()


def set_context(ctx: CommandContext | None) -> None:
    """Replace the context of the running task (used by request middleware and auth)."""
    _current.set(ctx)


@contextmanager
def command_context(ctx: CommandContext) -> Iterator[None]:
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)
