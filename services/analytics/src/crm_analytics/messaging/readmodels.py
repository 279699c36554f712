"""The worker's subscription of a read model: live batches into the generation the alias names."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_platform.consumer import EventBatchConsumer, subscribe_event_batches
from crm_platform.metrics import read_model_applied

from ..application.readmodels import Catalog, HandoverSettling, ReadModel, live_group
from ..domain.updates import VersionGap


def subscribe_read_model(
    broker: KafkaBroker,
    model: ReadModel,
    catalog: Catalog,
    *,
    group_id: str | None = None,
    max_records: int = 500,
    backoff: float = 0.1,
) -> EventBatchConsumer:
    """Feed ``model`` live: each batch goes to the generation the alias names at that moment."""
    prepared: set[int] = set()

    async def apply(events: list[Event[Any]]) -> None:
        alias = await catalog.alias(model.name)
        store = catalog.generation(model.name, alias.active)
        if alias.active not in prepared:
            await model.prepare(store)
            prepared.add(alias.active)
        try:
            await model.apply(events, store)
        except VersionGap as gap:
            if alias.settling:
                raise HandoverSettling(str(gap)) from gap
            raise
        if events:
            read_model_applied(model.name, max(event.time for event in events))

    return subscribe_event_batches(
        broker,
        *model.topics,
        group_id=group_id or live_group(model),
        handler=apply,
        max_records=max_records,
        backoff=backoff,
    )
