"""The local projection and the quarantine on the real PostgreSQL: a poison notification is set
aside and the projection goes on, a server's failure is waited out, a retry after a fix resolves."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import MapperDeserialisationError, Notification, StoredEvent
from prometheus_client import REGISTRY as METRICS

from crm_platform.eventstore import open_application
from crm_platform.metrics import QUARANTINE_OPEN
from crm_platform.projection import LocalProjection, topics_of
from crm_platform.quarantine import Quarantine, RecordRef, State
from crm_platform.settings import PostgresSettings

pytestmark = pytest.mark.integration


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


class Other(Aggregate):
    """Events the projection does not read."""

    @event("Made")
    def __init__(self) -> None:
        pass


class Notes(Application[uuid.UUID]):
    name = "notes"


Row = tuple[uuid.UUID, int, str]


class NoteIndex(LocalProjection[list[Row]]):
    """Text in a PostgreSQL text column: a NUL in a note fails the write (psycopg DataError)."""

    name = "note-index"
    topics = topics_of(Note)

    def __init__(self, application: Application[Any], **options: Any) -> None:
        super().__init__(application, service="platform-test", **options)
        self.fixed = False  # the "fix": strip NULs
        self.down = False  # PostgreSQL away
        self.computed: list[list[int]] = []
        self.written: list[uuid.UUID] = []

    def create_schema(self, cursor: Any) -> None:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS notes (id uuid PRIMARY KEY, version bigint, text text)"
        )

    def compute(self, notifications: Sequence[Notification]) -> list[Row]:
        self.computed.append([n.id for n in notifications])
        if self.down:
            raise psycopg.OperationalError("connection refused")
        rows: dict[uuid.UUID, Row] = {}
        for notification in notifications:
            note = self.application.repository.get(
                notification.originator_id, version=notification.originator_version
            )
            text = note.text.replace("\x00", "") if self.fixed else note.text
            rows[note.id] = (note.id, note.version, text)
        return list(rows.values())

    def write(self, cursor: Any, changes: list[Row]) -> None:
        self.written += [note_id for note_id, _, _ in changes]
        cursor.executemany(
            "INSERT INTO notes AS n (id, version, text) VALUES (%s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, text = EXCLUDED.text"
            " WHERE n.version <= EXCLUDED.version",
            changes,
        )

    def reset(self, cursor: Any) -> None:
        cursor.execute("TRUNCATE notes")

    def texts(self) -> dict[uuid.UUID, str]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT id, text FROM notes")
            return {row["id"]: row["text"] for row in cursor.fetchall()}


@pytest.fixture
def application(postgres_server: Any, fresh_database: Callable[[str], str]) -> Iterator[Notes]:
    database = fresh_database("projection")
    settings = PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=database,
    )
    app = open_application(Notes, settings, database)
    yield app
    app.close()


@pytest.fixture
def index(application: Notes) -> NoteIndex:
    index = NoteIndex(application, batch_size=10)
    index.create_tables()
    return index


def write(application: Notes, text: str) -> Note:
    note = Note(text)
    application.save(note)
    return note


def open_entries(index: NoteIndex) -> list[Any]:
    return index.quarantine.list(loop=index.name, state=State.OPEN).items


def test_a_poison_notification_is_quarantined_with_the_position_and_the_next_applied(
    application: Notes, index: NoteIndex
) -> None:
    good, poison, later = (
        write(application, "a"),
        write(application, "b\x00"),
        write(application, "c"),
    )

    assert index.step() == 3

    assert index.texts() == {good.id: "a", later.id: "c"}
    assert index.position() == application.recorder.max_notification_id()
    [entry] = open_entries(index)
    assert (entry.loop, entry.aggregate_id, entry.attempts) == ("note-index", str(poison.id), 1)
    assert entry.position is not None and entry.record_key == str(entry.position)
    assert entry.error_type.endswith("DataError") and "\x00" not in entry.error
    assert index.computed[0] == [1, 2, 3] and [2] in index.computed  # the batch, then one by one
    open_gauge = METRICS.get_sample_value(
        "crm_quarantine_open", {"service": "platform-test", "loop": "note-index"}
    )
    assert open_gauge == 1


def test_the_open_gauge_counts_an_entry_put_just_before_another_worker_went_on(
    application: Notes, index: NoteIndex
) -> None:
    write(application, "p\x00")
    write(application, "q")
    other, compute = NoteIndex(application), index.compute

    def racing(notifications: Sequence[Notification]) -> list[Row]:
        if len(notifications) == 1 and open_entries(index):
            other.catch_up()  # applies the rest while this one is between two notifications
        return compute(notifications)

    index.compute = racing  # type: ignore[method-assign]
    QUARANTINE_OPEN.labels("platform-test", index.name).set(0)

    index.step()

    assert other.position() == application.recorder.max_notification_id()
    assert len(open_entries(index)) == 1
    open_gauge = METRICS.get_sample_value(
        "crm_quarantine_open", {"service": "platform-test", "loop": "note-index"}
    )
    assert open_gauge == 1


def test_a_retry_fails_again_until_the_fix_then_resolves_the_entry(
    application: Notes, index: NoteIndex
) -> None:
    poison = write(application, "x\x00y")
    index.catch_up()
    [entry] = open_entries(index)

    assert index.retry(entry) is False
    again = index.quarantine.get(entry.id)
    assert again is not None and again.attempts == 2 and again.state == "held"

    index.fixed = True
    assert index.retry(entry) is True

    assert index.texts() == {poison.id: "xy"}
    assert open_entries(index) == []
    resolved = index.quarantine.get(entry.id)
    assert resolved is not None and resolved.state == "resolved"


def test_a_servers_failure_is_raised_never_quarantined_and_the_batch_applied_later(
    application: Notes, index: NoteIndex
) -> None:
    note = write(application, "while down")
    index.down = True

    with pytest.raises(psycopg.OperationalError):
        index.step()

    assert index.position() == 0 and open_entries(index) == []
    index.down = False
    assert index.catch_up() == 1
    assert index.texts() == {note.id: "while down"}


def test_other_aggregates_are_skipped_and_the_position_passes_them(
    application: Notes, index: NoteIndex
) -> None:
    application.save(Other())
    note = write(application, "mine")
    application.save(Other())

    index.catch_up()

    assert index.texts() == {note.id: "mine"}
    assert index.computed == [[2]]
    assert index.position() == 3


def test_the_lag_is_what_the_store_holds_beyond_the_position(
    application: Notes, index: NoteIndex
) -> None:
    for n in range(25):
        write(application, f"note {n}")
    assert index.lag() == 25

    index.step()
    assert index.last_lag == 15  # a full batch measures what is left
    index.catch_up()
    assert (index.lag(), index.last_lag) == (0, 0)


def test_a_rebuild_applies_everything_again_and_resolves_the_open_entries(
    application: Notes, index: NoteIndex
) -> None:
    good = write(application, "kept")
    write(application, "poison\x00")
    index.catch_up()
    [old] = open_entries(index)

    index.rebuild()
    assert index.texts() == {} and index.position() == 0
    index.catch_up()

    assert index.texts() == {good.id: "kept"}
    [new] = open_entries(index)  # met again: a new entry
    assert new.id != old.id and new.position == old.position


def test_several_workers_apply_each_notification_once(application: Notes, index: NoteIndex) -> None:
    notes = [write(application, f"n{n}") for n in range(40)]
    workers = [NoteIndex(application, batch_size=5) for _ in range(3)]
    threads = [threading.Thread(target=worker.catch_up) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(index.texts()) == {note.id for note in notes}
    written = [note_id for worker in workers for note_id in worker.written]
    assert sorted(written) == sorted(note.id for note in notes)  # each once, by one worker
    assert index.position() == 40


def test_a_new_edit_of_a_held_record_does_not_undo_an_older_one_retried_later(
    application: Notes, index: NoteIndex
) -> None:
    note = write(application, "v1\x00")
    index.catch_up()
    [entry] = open_entries(index)
    note.edit("v2")
    application.save(note)
    index.catch_up()
    assert index.texts() == {note.id: "v2"}

    index.fixed = True
    assert index.retry(entry) is True  # applies version 1 after version 2: the guard holds

    assert index.texts() == {note.id: "v2"}


def test_the_aggregates_held_in_quarantine_are_loaded_once_each_as_they_are_now(
    application: Notes, index: NoteIndex
) -> None:
    note = write(application, "v1\x00")
    note.edit("v2\x00")  # a second entry of the same note
    application.save(note)
    other = write(application, "o\x00")
    write(application, "fine")

    held = index.quarantined_aggregates(Note)  # caught up first: nothing applied before

    assert [(n.id, n.text) for n in held] == [(note.id, "v2\x00"), (other.id, "o\x00")]
    assert index.quarantined_aggregates(Other) == []
    index.fixed = True
    for entry in open_entries(index):
        if entry.aggregate_id == str(other.id):
            assert index.retry(entry)  # resolved: no longer held
    assert [n.id for n in index.quarantined_aggregates(Note)] == [note.id]


def test_a_held_aggregate_that_cannot_be_loaded_is_raised_whatever_the_kind_asked(
    application: Notes, index: NoteIndex
) -> None:
    broken = uuid.uuid4()
    application.recorder.insert_events(
        [StoredEvent(broken, 1, f"{topics_of(Note)[0]}Written", b"\xffjunk")]
    )

    with pytest.raises(MapperDeserialisationError):
        index.quarantined_aggregates(Other)

    assert [e.aggregate_id for e in open_entries(index)] == [str(broken)]


# --- the quarantine itself ----------------------------------------------------------------------


def test_one_open_entry_per_record_holds_it_until_released_then_resolved(index: NoteIndex) -> None:
    quarantine: Quarantine = index.quarantine
    record = RecordRef("activity-1", aggregate_id="a1", trace_id="0af7651916cd43dd8448eb211c80319c")

    first = quarantine.put("reminders", record, ValueError("bad \x00 due date"))
    second = quarantine.put("reminders", record, ValueError("still bad"))

    assert first == second
    entry = quarantine.get(first)
    assert entry is not None and entry.attempts == 2 and entry.error == "ValueError('still bad')"
    assert entry.trace_id == record.trace_id
    assert quarantine.is_held("reminders", "activity-1")

    released = quarantine.release(first)
    assert released is not None and released.state == "released"
    assert not quarantine.is_held("reminders", "activity-1")
    assert quarantine.open_entries("reminders", ["activity-1"])["activity-1"].id == first

    quarantine.put("reminders", record, ValueError("fails after release"))
    assert quarantine.is_held("reminders", "activity-1")  # held again

    resolved = quarantine.resolve(first)
    assert resolved is not None and resolved.state == "resolved"
    assert quarantine.open_entries("reminders", ["activity-1"]) == {}
    assert quarantine.put("reminders", record, ValueError("again")) != first  # a new entry


def test_the_keys_a_loop_holds_or_released_are_listed_apart(index: NoteIndex) -> None:
    quarantine: Quarantine = index.quarantine
    ids = [quarantine.put("scheduler", RecordRef(f"s{n}"), ValueError(n)) for n in range(4)]
    quarantine.put("other", RecordRef("o"), ValueError("other"))
    quarantine.release(ids[1])
    quarantine.resolve(ids[2])

    assert quarantine.keys("scheduler") == ["s0", "s3"]
    assert quarantine.keys("scheduler", released=True) == ["s1"]
    assert quarantine.keys("nobody") == []


def test_entries_are_listed_by_loop_and_state_a_page_at_a_time(index: NoteIndex) -> None:
    quarantine: Quarantine = index.quarantine
    ids = [quarantine.put("mailer", RecordRef(f"m{n}"), ValueError(n)) for n in range(5)]
    quarantine.put("other", RecordRef("o"), ValueError("other"))
    quarantine.resolve(ids[0])

    page = quarantine.list(loop="mailer", limit=2)
    assert [e.id for e in page.items] == ids[1:3] and page.next_after == ids[2]
    rest = quarantine.list(loop="mailer", after=page.next_after, limit=2)
    assert [e.id for e in rest.items] == ids[3:] and rest.next_after is None
    assert [e.id for e in quarantine.list(loop="mailer", state=State.RESOLVED).items] == ids[:1]
    assert len(quarantine.list(state=State.ALL).items) == 6
