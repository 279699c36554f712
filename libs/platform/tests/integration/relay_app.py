"""A tiny event-sourced application for the relay's tests, and a relay process over it.

Its events travel as the contacts service's payloads (the relay picks topics from the payload),
so the tests single out their own events by aggregate id. The aggregate's topic must resolve the
same way in the test and in the relay subprocess, hence ``python -c "import relay_app; ..."``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from samples import person_translator

from crm_events.contacts import CustomerRegistered
from crm_platform.eventstore import open_application
from crm_platform.relay import OutboxRelay, run_relay
from crm_platform.settings import KafkaSettings, PostgresSettings

SOURCE = "platform-test"
TOPICS = [CustomerRegistered.topic()]


class Person(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.contacts = 0

    @event("Contacted")
    def contact(self, summary: str) -> None:
        self.contacts += 1


class People(Application):
    def register(self, name: str) -> UUID:
        person = Person(name)
        self.save(person)
        return person.id

    def contact(self, person_id: UUID, summary: str, times: int = 1) -> None:
        person: Person = self.repository.get(person_id)
        for _ in range(times):
            person.contact(summary)
        self.save(person)


translate = person_translator(Person.Registered, Person.Contacted, source=SOURCE)


def open_people(postgres: PostgresSettings) -> People:
    assert postgres.database
    return open_application(lambda env: People(env=env), postgres, postgres.database)


def build_relay(
    application: People, postgres: PostgresSettings, kafka: KafkaSettings, **options: Any
) -> OutboxRelay:
    assert postgres.database
    return OutboxRelay(
        name="platform-test",
        application=application,
        translate=translate,
        topics=TOPICS,
        kafka=kafka,
        postgres=postgres,
        database=postgres.database,
        **options,
    )


def main() -> None:
    """A relay process over CRM_POSTGRES_DATABASE, in small batches (so a kill lands mid-way)."""
    postgres, kafka = PostgresSettings(), KafkaSettings()
    application = open_people(postgres)
    batch_size = int(os.environ.get("RELAY_BATCH_SIZE", "10"))
    print("relay starting", file=sys.stderr, flush=True)
    asyncio.run(run_relay(build_relay(application, postgres, kafka, batch_size=batch_size)))


if __name__ == "__main__":
    sys.exit("run as: python -c 'import relay_app; relay_app.main()'")
