"""A minimal downstream subscriber to the CRM's events (the README's example, run by the tests).

    python examples/subscriber.py --bootstrap 127.0.0.1:19092 --group my-system --limit 10

It reads the customer topic `crm.contacts.customer.v2`, the organization topic
`crm.contacts.organization.v1` and the personal-data key topic `crm.privacy.personal-data-key.v1`,
parses each record into its typed contract, skips what is not a known contract, handles events
idempotently (here: remembers the ids already seen; one change may announce several events of one
aggregate version, such as OrganizationRegistered and PartnerRegistered, each with its own id) and
commits only after handling. Personal data arrives sealed: it opens with the subject's key while the key is
current, and never again once a `PersonalDataKeyDestroyed` arrived (the person was erased).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from crm_events import Event, UnknownEventType, registry
from crm_events.contacts import OrganizationRegistered, PartnerRegistered
from crm_events.contacts.customer_v2 import CustomerContactedV2, CustomerRegisteredV2
from crm_events.personal import (
    KeyMismatch,
    PersonalDataKeyDestroyed,
    PersonalDataKeyIssued,
    Sealed,
    decode_key,
    unseal,
)

KEY_TOPIC = PersonalDataKeyIssued.topic()


class Keyring:
    """Keys by data subject; a destroyed key is remembered as destroyed, never to return."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}

    def apply(self, event: Event[Any]) -> None:
        data = event.data
        if isinstance(data, PersonalDataKeyDestroyed):
            self.keys[data.subject_id] = None
        elif isinstance(data, PersonalDataKeyIssued):
            destroyed = data.subject_id in self.keys and self.keys[data.subject_id] is None
            if not destroyed:
                self.keys[data.subject_id] = decode_key(data.key)

    def open(self, sealed: Sealed | None) -> Any:
        if sealed is None:
            return None
        key = self.keys.get(sealed.kid)
        if key is None:
            return "<sealed>"
        try:
            return unseal(sealed, key)
        except KeyMismatch:  # not the key it was sealed with: never trust or guess, flag it
            return "<unreadable>"


async def subscribe(bootstrap: str, group: str, limit: int, idle_seconds: float = 10) -> list[str]:
    consumer = AIOKafkaConsumer(
        CustomerRegisteredV2.topic(),
        OrganizationRegistered.topic(),
        KEY_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,  # commit after handling: at-least-once, never at-most-once
        auto_offset_reset="earliest",
    )
    seen: set[str] = set()
    keyring = Keyring()
    events: list[Event[Any]] = []
    lines: list[str] = []
    await consumer.start()
    try:
        while len(events) < limit:
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
                    if str(event.id) in seen:  # a redelivery (never a version): already handled
                        continue
                    seen.add(str(event.id))
                    if record.topic == KEY_TOPIC:
                        keyring.apply(event)
                    else:
                        events.append(event)
            await consumer.commit()
    finally:
        await consumer.stop()
    # Keys travel on their own topic, so the ones for these events may come after them.
    return lines + [describe(event, keyring) for event in events[:limit]]


def describe(event: Event[Any], keyring: Keyring) -> str:
    data = event.data
    if isinstance(data, CustomerRegisteredV2):
        name = f"{keyring.open(data.given_name)} {keyring.open(data.family_name)}"
        return f"{event.type} {data.customer_id}: {name}"
    if isinstance(data, CustomerContactedV2):
        summary = keyring.open(data.summary)
        return f"{event.type} {data.customer_id}: {data.channel} {data.direction} {summary!r}"
    if isinstance(data, OrganizationRegistered):
        return f"{event.type} {data.organization_id}: {data.name}"
    if isinstance(data, PartnerRegistered):
        return f"{event.type} {data.organization_id}: {data.partner_type}"
    return f"{event.type} {event.aggregateid}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--group", default="crm-example-subscriber")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    for line in asyncio.run(subscribe(args.bootstrap, args.group, args.limit)):
        print(line)


if __name__ == "__main__":
    main()
