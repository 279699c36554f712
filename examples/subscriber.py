"""A minimal downstream subscriber to the CRM's events (the README's example, run by the tests).

    python examples/subscriber.py --bootstrap 127.0.0.1:59092 --group my-system --limit 10

It reads `crm.contacts.customer.v1`, parses each record into its typed contract, skips what is not
a known contract, handles events idempotently (here: remembers ids already seen) and commits only
after handling.
"""

from __future__ import annotations

import argparse
import asyncio

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from crm_events import UnknownEventType, registry
from crm_events.contacts import CustomerContacted, CustomerRegistered


async def subscribe(bootstrap: str, group: str, limit: int, idle_seconds: float = 10) -> list[str]:
    consumer = AIOKafkaConsumer(
        CustomerRegistered.topic(),
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,  # commit after handling: at-least-once, never at-most-once
        auto_offset_reset="earliest",
    )
    seen: set[str] = set()
    lines: list[str] = []
    await consumer.start()
    try:
        while len(lines) < limit:
            batch = await consumer.getmany(timeout_ms=int(idle_seconds * 1000))
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    try:
                        event = registry.parse(record.value)
                    except (ValidationError, UnknownEventType) as error:
                        # Not a contract this build knows: park it, never stop the stream.
                        lines.append(f"skipped offset {record.offset}: {type(error).__name__}")
                        continue
                    if str(event.id) in seen:  # redelivery: already handled
                        continue
                    seen.add(str(event.id))
                    lines.append(describe(event))
            await consumer.commit()
    finally:
        await consumer.stop()
    return lines[:limit]


def describe(event) -> str:
    data = event.data
    if isinstance(data, CustomerRegistered):
        return f"{event.type} {data.customer_id}: {data.given_name} {data.family_name}"
    if isinstance(data, CustomerContacted):
        return f"{event.type} {data.customer_id}: {data.channel} {data.direction} {data.summary!r}"
    return f"{event.type} {event.aggregateid}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:59092")
    parser.add_argument("--group", default="crm-example-subscriber")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    for line in asyncio.run(subscribe(args.bootstrap, args.group, args.limit)):
        print(line)


if __name__ == "__main__":
    main()
