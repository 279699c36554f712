"""Aggregates of which the store holds one, at a fixed id, opened on first use: the directories
saved beside the records they list, in the same transaction, so the two always agree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Singleton(Aggregate):
    if TYPE_CHECKING:  # set by each subclass (an annotation would make them dataclasses)
        ID: ClassVar[UUID]

    @classmethod
    def open(cls) -> Self:
        # eventsourcing's metaclass takes ``id`` for any aggregate whose __init__ names it.
        opened: Self = cls(id=cls.ID)  # type: ignore[call-arg]
        return opened


class CampaignRegister(Singleton):
    """Campaigns, each with what the worker needs of it: added, and removed once (removing one
    not listed changes nothing). Each subclass names its events (``<Subclass>.Opened`` is
    defined from the ``__init__`` below; ``_added`` and ``_removed`` are the subclass's own)."""

    @event("Opened")
    def __init__(self, id: UUID) -> None:
        self.entries: dict[UUID, Any] = {}

    def add(self, campaign_id: UUID, entry: Any) -> None:
        self._added(campaign_id, entry)

    def remove(self, campaign_id: UUID) -> bool:
        if campaign_id not in self.entries:
            return False
        self._removed(campaign_id=campaign_id)
        return True

    # The subclass's events (their names and fields are stored: they stay as they are).
    def _added(self, campaign_id: UUID, entry: Any) -> None:
        raise NotImplementedError

    def _removed(self, campaign_id: UUID) -> None:
        raise NotImplementedError
