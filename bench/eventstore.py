"""Event-store append (eventsourcing on PostgreSQL) vs a raw psycopg insert of the same rows."""

from __future__ import annotations

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from crm_platform.eventstore import open_application
from crm_platform.settings import PostgresSettings

from .common import Result, Timer, fresh_database


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


RAW_TABLE = """CREATE TABLE raw_events (
    originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text NOT NULL,
    state bytea NOT NULL, id bigserial, PRIMARY KEY (originator_id, originator_version))"""
RAW_INSERT = "INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"


def run(commands: int = 2000, batch: int = 100) -> list[Result]:
    settings = PostgresSettings()
    results = []
    with fresh_database("store") as database:
        app = open_application(Application, settings, database)
        notes = [Note(f"note {i}") for i in range(commands)]
        stored = [app.mapper.to_stored_event(e) for n in notes for e in n.collect_events()]
        notes = [Note(f"note {i}") for i in range(commands)]  # fresh, uncollected events
        ours, raw = Timer(), Timer()
        with ours.measure():
            for note in notes:
                app.save(note)
        with psycopg.connect(settings.dsn(database)) as conn:
            conn.execute(RAW_TABLE)
            conn.commit()
            with raw.measure():
                for s in stored:
                    conn.execute(
                        RAW_INSERT, (s.originator_id, s.originator_version, s.topic, s.state)
                    )
                    conn.commit()
        results.append(
            Result(
                "event-store append, one command per commit",
                commands / ours.seconds,
                commands / raw.seconds,
                "events/s",
            )
        )

        notes = [Note(f"note {i}") for i in range(commands)]
        stored = [app.mapper.to_stored_event(e) for n in notes for e in n.collect_events()]
        notes = [Note(f"note {i}") for i in range(commands)]
        ours, raw = Timer(), Timer()
        with ours.measure():
            for i in range(0, commands, batch):
                app.save(*notes[i : i + batch])
        with psycopg.connect(settings.dsn(database)) as conn:
            conn.execute("TRUNCATE raw_events")
            conn.commit()
            with raw.measure():
                for i in range(0, commands, batch):
                    with conn.cursor() as cur:
                        cur.executemany(
                            RAW_INSERT,
                            [
                                (s.originator_id, s.originator_version, s.topic, s.state)
                                for s in stored[i : i + batch]
                            ],
                        )
                    conn.commit()
        results.append(
            Result(
                f"event-store append, {batch} per commit",
                commands / ours.seconds,
                commands / raw.seconds,
                "events/s",
            )
        )
        app.close()
    return results
