"""Materializing a campaign's audience at launch: segment members minus everyone who may not
be contacted on the campaign's channel for its purpose."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


class Reachable(Protocol):
    def may_receive(self, channel: str, purpose: str) -> bool: ...


@dataclass(frozen=True)
class Audience:
    recipients: tuple[UUID, ...]  # sorted: the same segments and facts give the same audience
    excluded: int  # candidates left out: no consent, unsubscribed, erased or unknown


def materialize(
    candidates: Iterable[UUID],
    profiles: Mapping[UUID, Reachable],
    *,
    channel: str,
    purpose: str,
) -> Audience:
    """Each candidate once; one marketing knows nothing about is excluded like one without
    consent (consent is never presumed)."""
    unique = set(candidates)
    recipients = sorted(
        customer
        for customer in unique
        if (profile := profiles.get(customer)) is not None and profile.may_receive(channel, purpose)
    )
    return Audience(tuple(recipients), excluded=len(unique) - len(recipients))
