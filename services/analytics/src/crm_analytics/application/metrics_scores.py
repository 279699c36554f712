"""Customer scores: the periodic scoring pass (``CustomerScoring``, a loop of the worker in which
one customer's failure is quarantined) and its documents, with their outbox.

Analytics' own events (``CustomerRfmScored``, ``ChurnRiskChanged``) leave through an outbox
(``outbox``): the pass writes a customer's new figures and the events they cause in one
single-document update, guarded by the document's version; an event's id is
``uuid5(customer, version)``, so consumers recognise a repeat.

The scores live outside the rebuildable ``metrics`` generations on purpose: they are the record
of what was published, and a rebuild of the facts must not restart the customers' versions.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pymongo.errors import DuplicateKeyError

from crm_events import EventData
from crm_events.analytics import (
    ChurnFactor,
    ChurnRiskChanged,
    ChurnRiskLevel,
    CustomerRfmScored,
    LifetimeValue,
)
from crm_platform.loops import Loop, each
from crm_platform.quarantine import Entry, QuarantineStore, RecordRef

from ..domain.metrics_customer_value import (
    MODEL_VERSION,
    Assessment,
    CustomerFigures,
    assess,
    ranked,
)
from ..domain.metrics_facts import Subject
from ..domain.metrics_value import ValueModel
from ..read_models.metrics import MetricsFacts
from .outbox import Document, MongoOutbox, outbox_entry, outgoing

log = logging.getLogger(__name__)

COLLECTION = "metrics_customer_scores"
LOOP = "analytics-customer-scoring"
PAGE = 500  # customers whose quarantine entries are looked up at once
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class ScoringSettings:
    currency: str = "EUR"
    model: ValueModel = field(default_factory=ValueModel)


def figures_document(figures: CustomerFigures, as_of: datetime) -> Document:
    """What the API serves for a customer (Decimals as strings)."""
    value, rfm, churn = figures.value, figures.rfm, figures.churn
    return {
        "model_version": MODEL_VERSION,
        "computed_at": as_of,
        "lifetime_value": {
            "present": str(value.present),
            "future": str(value.future),
            "total": str(value.total),
            "tier": figures.tier.value,
            "orders": value.habits.orders,
            "average_order_value": str(value.habits.average_order_value.quantize(CENTS)),
            "orders_per_year": str(value.habits.orders_per_year.quantize(CENTS)),
            "other_currencies": sorted(value.other_currencies),
            "recency_days": None
            if value.habits.recency_days is None
            else int(value.habits.recency_days),
        },
        "rfm": None
        if rfm is None
        else {
            "recency": rfm.recency,
            "frequency": rfm.frequency,
            "monetary": rfm.monetary,
            "segment": rfm.segment.value,
        },
        "churn": {
            "score": churn.score,
            "level": churn.level.value,
            "factors": [
                {"name": f.name, "points": f.points, "detail": f.detail, "events": list(f.events)}
                for f in churn.factors
            ],
        },
        "suggestions": [
            {
                "product_id": s.product_id,
                "because_of": s.because_of,
                "support": s.support,
                "confidence": str(s.confidence),
                "lift": str(s.lift),
            }
            for s in figures.suggestions
        ],
        "lineage": figures.lineage,
    }


def changes(
    stored: Document | None, figures: CustomerFigures, currency: str, as_of: datetime
) -> list[EventData]:
    """The events the new figures cause against the stored ones: a new RFM score or segment, a
    churn risk level crossing (a first assessment counts only above ``low``)."""
    common = {
        "customer_id": uuid.UUID(figures.customer_id),
        "model_version": MODEL_VERSION,
        "computed_at": as_of,
    }
    found = (
        _rfm_change((stored or {}).get("rfm"), figures, currency, common),
        _churn_change((stored or {}).get("churn", {}).get("level"), figures, common),
    )
    return [event for event in found if event is not None]


def _rfm_change(
    before: Document | None, figures: CustomerFigures, currency: str, common: Document
) -> CustomerRfmScored | None:
    rfm, value = figures.rfm, figures.value
    if rfm is None:
        return None
    scores = {"recency": rfm.recency, "frequency": rfm.frequency, "monetary": rfm.monetary}
    if before is not None and all(before[k] == v for k, v in scores.items()):
        return None
    return CustomerRfmScored(
        **common,
        **scores,
        segment=rfm.segment,
        previous_segment=before and before["segment"],
        lifetime_value=LifetimeValue(
            present=value.present,
            future=value.future,
            total=value.total,
            currency=currency,
            tier=figures.tier,
        ),
    )


def _churn_change(
    before: str | None, figures: CustomerFigures, common: Document
) -> ChurnRiskChanged | None:
    churn = figures.churn
    if churn.level == (before or ChurnRiskLevel.LOW):
        return None
    return ChurnRiskChanged(
        **common,
        score=churn.score,
        level=churn.level,
        previous_level=before,
        factors=[
            ChurnFactor(name=f.name, points=f.points, detail=f.detail)
            for f in sorted(churn.factors, key=lambda f: -f.points)
        ],
    )


class CustomerScores(MongoOutbox):
    """The ``metrics_customer_scores`` documents, with their outbox."""

    collection_name = COLLECTION
    topics = (CustomerRfmScored.topic(), ChurnRiskChanged.topic())

    async def get(self, customer_id: str) -> Document | None:
        return await self.collection.find_one({"_id": customer_id})

    async def record(
        self,
        stored: Document | None,
        figures: CustomerFigures,
        settings: ScoringSettings,
        as_of: datetime,
    ) -> bool:
        """Write the figures and the events they cause; False when another writer moved the
        document since ``stored`` was read (the next pass scores it again)."""
        version = stored["version"] if stored else 0
        events = [
            outgoing(data, figures.customer_id, version + i, as_of)
            for i, data in enumerate(changes(stored, figures, settings.currency, as_of), 1)
        ]
        update: Document = {
            "$set": figures_document(figures, as_of) | {"version": version + len(events)}
        }
        if events:
            update["$set"]["outbox_pending"] = True
            update["$push"] = {"outbox": {"$each": [outbox_entry(e) for e in events]}}
        try:
            result = await self.collection.update_one(
                {"_id": figures.customer_id, "version": version}, update, upsert=stored is None
            )
        except DuplicateKeyError:
            return False
        return result.matched_count == 1 or result.upserted_id is not None


class CustomerScoring:
    """The scoring pass, a loop of the worker (``LOOP``).

    Each customer is assessed from their own facts, the base is ranked, and each customer's
    figures are recorded, one customer at a time through ``loops.each``: a customer whose facts
    cannot be read, or whose scores document cannot take the figures, is set aside in the
    quarantine (left out of the ranking, skipped by later passes until released) and the others
    are scored. MongoDB away is raised: the loop waits it out.
    """

    def __init__(
        self,
        facts: MetricsFacts,
        scores: CustomerScores,
        settings: ScoringSettings,
        quarantine: QuarantineStore,
    ) -> None:
        self.facts = facts
        self.scores = scores
        self.settings = settings
        self.quarantine = quarantine

    def loop(self, *, interval: float) -> Loop:
        return Loop(LOOP, self._step, interval=interval, setup=self.quarantine.create_table)

    async def score(self, as_of: datetime, *, only: Collection[str] | None = None) -> int:
        """One pass; how many customers were scored. ``only``: record these customers alone
        (the whole base is still ranked); LookupError when one of them has no facts."""
        base = await self.facts.all(Subject.CUSTOMER)
        assessed, unreadable = self._assess(base, as_of)
        figures = ranked(assessed)

        async def record(customer: str) -> None:
            if customer in unreadable:
                raise unreadable[customer]
            stored = await self.scores.get(customer)
            await self.scores.record(stored, figures[customer], self.settings, as_of)

        customers = sorted(base, key=str) if only is None else sorted(only)
        if missing := [customer for customer in customers if customer not in base]:
            raise LookupError(f"no facts of customers {', '.join(missing)}")
        scored = 0
        for start in range(0, len(customers), PAGE):
            scored += await each(
                customers[start : start + PAGE],
                record,
                loop=LOOP,
                quarantine=self.quarantine,
                record=_record_of,
            )
        return scored

    async def retry(self, entry: Entry) -> bool:
        """Score the customer of a quarantine ``entry`` now: True once their figures are recorded
        (the entry resolved), False when they failed again (the entry holds them again)."""
        if entry.loop != LOOP:
            raise ValueError(f"entry {entry.id} is not of {LOOP}")
        await asyncio.to_thread(self.quarantine.release, entry.id)
        await self.score(now(), only={entry.record_key})
        after = await asyncio.to_thread(self.quarantine.get, entry.id)
        return after is not None and after.resolved_at is not None

    async def _step(self) -> bool:
        log.info("scored %d customers", await self.score(now()))
        return False  # a pass covers the base: the next one waits for the interval

    def _assess(
        self, base: dict[str, Any], as_of: datetime
    ) -> tuple[dict[str, Assessment], dict[str, Exception]]:
        """Each customer alone; those whose facts cannot be read, with why (``each`` then
        quarantines them with that error, as if their recording had raised it)."""
        assessed: dict[str, Assessment] = {}
        unreadable: dict[str, Exception] = {}
        model, currency = self.settings.model, self.settings.currency
        for customer, facts in base.items():
            try:
                assessed[customer] = assess(facts, model=model, currency=currency, as_of=as_of)
            except Exception as error:  # one customer's bad facts are theirs alone
                unreadable[customer] = error
        return assessed, unreadable


def _record_of(customer: str) -> RecordRef:
    return RecordRef(str(customer), aggregate_id=str(customer))


def now() -> datetime:
    return datetime.now(UTC)
