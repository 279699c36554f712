"""The tests' one way to wait for what happens asynchronously: ``eventually``."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from crm_platform.testing import eventually, eventually_async

pytestmark = pytest.mark.unit


def results(*outcomes: Any) -> Callable[[], Any]:
    """A check that gives ``outcomes`` in turn (raising those that are exceptions)."""
    pending = iter(outcomes)

    def check() -> Any:
        outcome = next(pending)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return check


def test_the_first_truthy_result_past_falsy_ones_and_failed_assertions() -> None:
    check = results(None, AssertionError("not yet"), [], {"id": 1})

    assert eventually(check, what="the row", interval=0.01) == {"id": 1}


def test_exceptions_not_retried_are_raised_at_once() -> None:
    check = results(ConnectionError("away"), True)

    with pytest.raises(ConnectionError):
        eventually(check, what="the row")
    assert eventually(results(ConnectionError(), 7), what="x", retry_on=(OSError,)) == 7


def test_the_failure_names_what_how_long_and_the_last_outcome() -> None:
    started = time.monotonic()

    with pytest.raises(AssertionError, match=r"the row: not within 0\.\d s; last: \[\]"):
        eventually(list, what="the row", within=0.2, interval=0.05)
    assert time.monotonic() - started < 1

    with pytest.raises(AssertionError, match=r"last: AssertionError\('3 != 4'\)") as failure:
        eventually(results(*[AssertionError("3 != 4")] * 50), what="four", within=0.1)
    assert isinstance(failure.value.__cause__, AssertionError)


def test_the_pauses_grow_up_to_the_interval_and_never_pass_the_deadline() -> None:
    attempts: list[float] = []

    def check() -> bool:
        attempts.append(time.monotonic())
        return False

    with pytest.raises(AssertionError):
        eventually(check, what="never", within=0.5, interval=0.1)
    pauses = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert pauses[0] < 0.05 and max(pauses) < 0.2
    assert 5 < len(attempts) < 20


async def test_a_plain_check_runs_in_a_thread_and_a_coroutine_is_awaited() -> None:
    threads: list[int] = []

    def plain() -> bool:
        threads.append(threading.get_ident())
        return len(threads) == 2

    async def coroutine() -> str:
        await asyncio.sleep(0)
        return "done"

    assert await eventually_async(plain, what="two attempts", interval=0.01)
    assert threading.get_ident() not in threads
    assert await eventually_async(coroutine, what="the coroutine") == "done"
    assert await eventually_async(lambda: coroutine(), what="via a lambda") == "done"


async def test_the_async_one_fails_the_same_way() -> None:
    async def never() -> int:
        return 0

    with pytest.raises(AssertionError, match=r"the count: not within .* s; last: 0"):
        await eventually_async(never, what="the count", within=0.1)
