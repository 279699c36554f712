"""Materializing a campaign's audience at launch: segment members minus everyone who may not
be contacted on the campaign's channel for its purpose.

The launch reads the audience from an index (``application.audience_index``) rather than from
each profile: a profile is reduced here to the channel-and-purpose pairs it may receive
(``reach``), so the index answers "who may get this campaign" with one containment test per
member, while the decision itself stays ``AudienceProfile.may_receive``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


class Reachable(Protocol):
    @property
    def consents(self) -> Mapping[tuple[str, str], tuple[bool, object]]: ...

    def may_receive(self, channel: str, purpose: str) -> bool: ...


@dataclass(frozen=True)
class Audience:
    recipients: tuple[UUID, ...]  # sorted: the same segments and facts give the same audience
    excluded: int  # candidates left out: no consent, unsubscribed, erased or unknown


def reach_key(channel: str, purpose: str) -> str:
    return f"{channel}:{purpose}"


def reach(profile: Reachable) -> frozenset[str]:
    """The ``reach_key`` of every channel and purpose the profile may receive now (consent is
    never presumed, so only the pairs with a decision can be in it)."""
    return frozenset(
        reach_key(channel, purpose)
        for channel, purpose in profile.consents
        if profile.may_receive(channel, purpose)
    )


def materialize(candidates: Iterable[tuple[UUID, bool]]) -> Audience:
    """``candidates``: (customer, reachable) pairs, a customer possibly several times (one per
    segment). Each counted once; one marketing knows nothing about comes as unreachable."""
    unique: dict[UUID, bool] = {}
    for customer, reachable in candidates:
        unique[customer] = unique.get(customer, False) or reachable
    # By the integer: the same order as comparing UUIDs, without a Python call per comparison.
    recipients = sorted((c for c, reachable in unique.items() if reachable), key=lambda c: c.int)
    return Audience(tuple(recipients), excluded=len(unique) - len(recipients))
