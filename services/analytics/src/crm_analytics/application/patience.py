"""Waiting out servers that do not answer yet, within a bounded patience: the rebuild's.

A freshly started Kafka answers group admin calls with ``GroupCoordinatorNotAvailableError`` for
a few seconds (``__consumer_offsets`` does not exist yet), and a broker may restart in the middle
of a rebuild. Every broker interaction of a rebuild goes through ``Patience.call``: a transient
failure (``failures.is_transient``) is logged and retried with growing pauses, anything else is
raised at once. The pauses of a whole run add up to at most ``seconds``; past that the run gives
up with ``OutOfPatience``, which says what it was waiting for and why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from crm_platform.failures import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")


class OutOfPatience(Exception):
    """The servers stayed away longer than the patience allowed."""


@dataclass
class Patience:
    seconds: float = 120.0
    backoff: float = 0.5
    max_backoff: float = 5.0
    waited: float = 0.0  # seconds spent waiting so far, all calls together

    async def call(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``'s result once it succeeds; ``what`` names it in the messages."""
        pause = self.backoff
        while True:
            try:
                return await attempt()
            except Exception as error:
                if not is_transient(error):
                    raise
                await self.wait(what, pause, error)
            pause = min(pause * 2, self.max_backoff)

    async def wait(self, what: str, pause: float, error: BaseException) -> None:
        """Sleep ``pause`` seconds (at most what is left of the patience), or give up."""
        left = self.seconds - self.waited
        if left <= 0:
            raise self._given_up(what, f"; the last failure: {error!r}") from error
        pause = min(pause, left)
        log.warning(
            "waiting for %s (%r): trying again in %.1fs, %.0fs of patience left",
            what,
            error,
            pause,
            left,
        )
        await asyncio.sleep(pause)
        self.waited += pause

    def spent(self, what: str, seconds: float) -> None:
        """Count ``seconds`` lost waiting for ``what`` elsewhere (a fetch that brought nothing
        while records remain), or give up once the patience is spent."""
        self.waited += seconds
        if self.waited > self.seconds:
            raise self._given_up(what, "")

    def _given_up(self, what: str, why: str) -> OutOfPatience:
        return OutOfPatience(
            f"gave up waiting for {what} after {self.waited:.0f}s of waiting in all"
            f" (a patience of {self.seconds:g}s){why}"
        )
