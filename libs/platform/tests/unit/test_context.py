"""The command context follows the code that handles one command, and no further."""

from __future__ import annotations

import asyncio

import pytest

from crm_platform.context import CommandContext, command_context, current_context, set_context

pytestmark = pytest.mark.unit

OUTER = CommandContext(correlation_id="outer", actor="alice")
INNER = CommandContext(correlation_id="inner", causation_id="event:1")


def test_a_context_is_current_inside_its_block_only_and_blocks_nest() -> None:
    assert current_context() is None
    with command_context(OUTER):
        assert current_context() is OUTER
        with command_context(INNER):
            assert current_context() is INNER
        assert current_context() is OUTER
    assert current_context() is None


def test_the_context_is_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), command_context(OUTER):
        raise RuntimeError("boom")
    assert current_context() is None


async def test_concurrent_tasks_keep_their_own_context() -> None:
    async def handle(ctx: CommandContext) -> str | None:
        with command_context(ctx):
            await asyncio.sleep(0.01)  # the other task runs meanwhile
            current = current_context()
            return current.correlation_id if current else None

    assert await asyncio.gather(handle(OUTER), handle(INNER)) == ["outer", "inner"]
    assert current_context() is None


async def test_set_context_stays_inside_the_task_that_set_it() -> None:
    async def request() -> None:
        set_context(OUTER.with_actor("bob"))
        assert current_context() == CommandContext(correlation_id="outer", actor="bob")

    await asyncio.create_task(request())
    assert current_context() is None
