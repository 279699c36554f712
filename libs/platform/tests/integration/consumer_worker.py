"""A consumer worker process for the crash test, and the idempotent effect it applies.

On its first delivery (no flag file yet) the worker dies after the effect and before the offset
commit, as a process killed at the worst moment would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from crm_events import Event
from crm_platform.consumer import subscribe_events
from crm_platform.kafka import make_broker
from crm_platform.settings import KafkaSettings


async def apply_effect(effects: AsyncCollection[dict[str, Any]], event: Event[Any]) -> bool:
    """Count the event once: the counter and the version change in one version-guarded update."""
    try:
        await effects.update_one(
            {"_id": event.aggregateid, "version": {"$lt": event.aggregateversion}},
            {"$inc": {"applied": 1}, "$set": {"version": event.aggregateversion}},
            upsert=True,
        )
    except DuplicateKeyError:  # the document holds this version already
        return False
    return True


def first_delivery(flag: Path, event: Event[Any]) -> bool:
    """True once: the flag file remembers which event the first worker died on."""
    if flag.exists():
        return False
    flag.write_text(str(event.id))
    return True


async def main(bootstrap: str, mongo_uri: str, database: str, topic: str, group: str) -> None:
    flag = Path(os.environ["CRASH_FLAG"])
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    effects = client[database]["effects"]

    async def handler(event: Event[Any]) -> None:
        await apply_effect(effects, event)
        if first_delivery(flag, event):
            os._exit(1)  # after the effect, before the offset commit

    broker = make_broker(KafkaSettings(bootstrap_servers=bootstrap))
    subscribe_events(broker, topic, group_id=group, handler=handler, backoff=0.01)
    async with broker:
        await broker.start()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
