"""An in-process index of leads and opportunities, for lists, lookups and the forecast.

The event store answers "this aggregate by id"; lists, "the open opportunities of an account" or
"the leads of a customer" need more. Each process keeps this index in memory and brings it up to
date before every use by following the application's notification log from where it stopped
(only the pipeline aggregates' event topics), reloading each changed aggregate. Reading the log
of the shared database, it sees every process's writes: an API replica and the worker agree, and
a client reads its own writes. A restarted process rebuilds it from the log; erased leads come
back without their personal data, since their keys are gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import get_topic

from ..domain.forecast import Deal, DealStatus
from ..domain.leads import Lead, LeadSource, LeadStatus
from ..domain.opportunities import Opportunity, OpportunityStatus
from ..domain.pipeline import Pipeline

PAGE = 500
E = TypeVar("E")


@dataclass(frozen=True)
class LeadEntry:
    lead_id: UUID
    position: int  # where the lead first appeared in the log: the order of lists
    version: int
    status: LeadStatus
    source: LeadSource
    given_name: str | None
    family_name: str | None
    company: str | None
    owner: str | None
    score: int
    customer_id: UUID | None
    response_ids: frozenset[UUID]
    erased: bool
    captured_at: datetime

    @classmethod
    def of(cls, lead: Lead, position: int) -> LeadEntry:
        return cls(
            lead_id=lead.id,
            position=position,
            version=lead.version,
            status=lead.status,
            source=lead.source,
            given_name=lead.given_name,
            family_name=lead.family_name,
            company=lead.company,
            owner=lead.owner,
            score=lead.score_points,
            customer_id=lead.customer_id,
            response_ids=frozenset(lead.responses),
            erased=lead.erased_at is not None,
            captured_at=lead.created_on,
        )

    @property
    def is_open(self) -> bool:
        """Still changing: scored by behaviour and rules."""
        return self.status is not LeadStatus.CONVERTED and not self.erased


@dataclass(frozen=True)
class OpportunityEntry:
    opportunity_id: UUID
    position: int
    version: int
    name: str
    pipeline_id: UUID
    stage_id: str
    status: OpportunityStatus
    amount: Decimal
    currency: str
    probability: int
    expected_close_date: date
    closed_on: date | None
    owner: str
    account_id: UUID | None
    contact_id: UUID | None
    lead_id: UUID | None
    at_risk: bool
    opened_at: datetime

    @classmethod
    def of(cls, opportunity: Opportunity, position: int) -> OpportunityEntry:
        return cls(
            opportunity_id=opportunity.id,
            position=position,
            version=opportunity.version,
            name=opportunity.name,
            pipeline_id=opportunity.pipeline_id,
            stage_id=opportunity.stage_id,
            status=opportunity.status,
            amount=opportunity.amount,
            currency=opportunity.currency,
            probability=opportunity.probability,
            expected_close_date=opportunity.expected_close_date,
            closed_on=opportunity.closed_on,
            owner=opportunity.owner,
            account_id=opportunity.account_id,
            contact_id=opportunity.contact_id,
            lead_id=opportunity.lead_id,
            at_risk=opportunity.at_risk,
            opened_at=opportunity.created_on,
        )

    def deal(self) -> Deal:
        return Deal(
            owner=self.owner,
            currency=self.currency,
            amount=self.amount,
            probability=self.probability,
            status=DealStatus(self.status.value),
            expected_close_date=self.expected_close_date,
            closed_on=self.closed_on,
        )


def event_topics(*aggregate_classes: type[Aggregate]) -> list[str]:
    """The topics of every domain event class of the aggregates (nested in their classes)."""
    return [
        get_topic(member)
        for cls in aggregate_classes
        for member in vars(cls).values()
        if isinstance(member, type) and issubclass(member, DomainEvent)
    ]


class PipelineIndex:
    def __init__(self, application: Application[UUID]) -> None:
        self._application = application
        self._topics = event_topics(Lead, Opportunity, Pipeline)
        self._position = 0
        self._first_seen: dict[UUID, int] = {}
        self._leads: dict[UUID, LeadEntry] = {}
        self._opportunities: dict[UUID, OpportunityEntry] = {}
        self._pipelines: dict[UUID, UUID] = {}  # ids only: pipelines are few, loaded when asked
        self._lock = threading.Lock()

    def catch_up(self) -> None:
        """Apply what the log recorded since the last call (every query calls this first)."""
        with self._lock:
            while notifications := self._application.recorder.select_notifications(
                start=self._position, limit=PAGE, topics=self._topics, inclusive_of_start=False
            ):
                changed = {n.originator_id: None for n in notifications}
                for notification in notifications:
                    self._first_seen.setdefault(notification.originator_id, notification.id)
                for aggregate_id in changed:
                    self._refresh(aggregate_id)
                self._position = notifications[-1].id

    def _refresh(self, aggregate_id: UUID) -> None:
        aggregate = self._application.repository.get(aggregate_id)
        position = self._first_seen[aggregate_id]
        if isinstance(aggregate, Lead):
            self._leads[aggregate_id] = LeadEntry.of(aggregate, position)
        elif isinstance(aggregate, Opportunity):
            self._opportunities[aggregate_id] = OpportunityEntry.of(aggregate, position)
        elif isinstance(aggregate, Pipeline):
            self._pipelines[aggregate_id] = aggregate_id

    # --- queries (each catches up first) --------------------------------------------------------

    def _current(self, entries: dict[UUID, E]) -> list[E]:
        """The entries once caught up, copied under the lock (other threads catch up too)."""
        self.catch_up()
        with self._lock:
            return list(entries.values())

    def leads(self, keep: Callable[[LeadEntry], bool] = lambda _: True) -> list[LeadEntry]:
        """Matching leads, newest first."""
        return _newest_first(e for e in self._current(self._leads) if keep(e))

    def opportunities(
        self, keep: Callable[[OpportunityEntry], bool] = lambda _: True
    ) -> list[OpportunityEntry]:
        """Matching opportunities, newest first."""
        return _newest_first(e for e in self._current(self._opportunities) if keep(e))

    def pipeline_ids(self) -> set[UUID]:
        return set(self._current(self._pipelines))

    def stages_in_use(self, pipeline_id: UUID) -> set[str]:
        """Stages of the pipeline holding open opportunities (a revision must keep them)."""
        return {
            entry.stage_id
            for entry in self.opportunities(
                lambda e: e.pipeline_id == pipeline_id and e.status is OpportunityStatus.OPEN
            )
        }


def _newest_first(entries: Iterable[Any]) -> list[Any]:
    return sorted(entries, key=lambda entry: entry.position, reverse=True)


def page(entries: list[Any], *, before: int | None, limit: int) -> tuple[list[Any], int | None]:
    """Cursor pagination over newest-first entries: those before ``before`` (a position), and
    the cursor of the next page (None on the last)."""
    remaining: Iterator[Any] = (e for e in entries if before is None or e.position < before)
    chosen = [entry for _, entry in zip(range(limit + 1), remaining, strict=False)]
    if len(chosen) <= limit:
        return chosen, None
    return chosen[:limit], chosen[limit - 1].position
