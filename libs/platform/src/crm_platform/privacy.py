"""Crypto-shredding: personal data stored and published under a key of each data subject's own.

Writing side (a service's event store):

- The domain declares which fields of which domain events are personal data of the event's
  aggregate (the data subject) with ``crm_platform.personal_data``, a module without I/O:
  ``personal_data(Customer.Registered, "given_name", "email")``.
- A service application inherits :class:`ShreddingApplication`. Its mapper seals those fields with
  the subject's key (created on first use, kept in the service's own database) before they reach
  the store, and opens them when aggregates are loaded. After ``personal_data_keys.destroy(id)``
  (erasure) they load as ``None``, and no key is ever issued for that subject again.
- The relay decodes stored events *without* opening them: translators copy the :class:`Sealed`
  values into the integration events as they are, and the relay announces each subject's key on the
  key topic (``PersonalDataKeyIssued``) before the first event sealed with it.

Reading side (consumers in other services): a :class:`Keyring` fed by
:func:`subscribe_personal_data_keys` opens sealed values until the subject's key is destroyed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic
from faststream.kafka import KafkaBroker
from psycopg_pool import ConnectionPool
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from crm_events import Event
from crm_events.personal import (
    PersonalDataKeyDestroyed,
    PersonalDataKeyIssued,
    Sealed,
    decode_key,
    new_key,
    seal,
    unseal,
)

from .consumer import NotYet, subscribe_events
from .eventstore import ContextCapturingMapper
from .personal_data import PersonalDataErased, personal_fields

KEYS_TABLE = "crm_personal_data_keys"
# Other processes of the service (api replicas, worker) may open a subject's data for this long
# after its erasure; the process that erases forgets the key at once.
KEY_CACHE_SECONDS = 2.0


class KeyNotYetKnown(NotYet):
    """A sealed value arrived before its key; transient: the key topic is catching up."""

    def __init__(self, subject: UUID) -> None:
        super().__init__(f"no key for {subject} has arrived yet")
        self.subject = subject


# --- the service's own keys -------------------------------------------------------------------


class KeyStore(ABC):
    """The keys of the subjects a service records personal data about."""

    @abstractmethod
    def key(self, subject: UUID) -> bytes | None:
        """The subject's key; None when it never had one or it was destroyed."""

    @abstractmethod
    def key_for_writing(self, subject: UUID) -> bytes:
        """The subject's key, created on first use; ``PersonalDataErased`` once destroyed."""

    @abstractmethod
    def destroy(self, subject: UUID) -> bool:
        """Destroy the key for good; False when it was destroyed already."""

    @abstractmethod
    def is_destroyed(self, subject: UUID) -> bool: ...

    def prefetch(  # noqa: B027 (an optional hook: a no-op is a correct implementation)
        self, subjects: Iterable[UUID], *, for_writing: bool = False
    ) -> None:
        """Load (and with ``for_writing`` create) many subjects' keys at once: a hint that
        saves round trips before a batch; lookups afterwards behave the same without it."""


class MemoryKeyStore(KeyStore):
    """For the in-memory (POPO) event store of unit tests."""

    def __init__(self) -> None:
        self._keys: dict[UUID, bytes | None] = {}
        self._lock = threading.Lock()

    def key(self, subject: UUID) -> bytes | None:
        return self._keys.get(subject)

    def key_for_writing(self, subject: UUID) -> bytes:
        with self._lock:
            if subject not in self._keys:
                self._keys[subject] = new_key()
            key = self._keys[subject]
        if key is None:
            raise PersonalDataErased(subject)
        return key

    def destroy(self, subject: UUID) -> bool:
        with self._lock:
            destroyed = subject in self._keys and self._keys[subject] is None
            self._keys[subject] = None
        return not destroyed

    def is_destroyed(self, subject: UUID) -> bool:
        return subject in self._keys and self._keys[subject] is None


class _KeyCache:
    """Recently used keys (None: known to have none), each trusted for ``seconds``; bounded, the
    least recently used entry goes first."""

    def __init__(self, seconds: float, size: int) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: OrderedDict[UUID, tuple[float, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, subject: UUID) -> tuple[bool, bytes | None]:
        """(hit, key)."""
        with self._lock:
            entry = self._entries.get(subject)
            if entry is None or time.monotonic() - entry[0] >= self.seconds:
                return False, None
            self._entries.move_to_end(subject)
            return True, entry[1]

    def put(self, subject: UUID, key: bytes | None) -> None:
        with self._lock:
            self._entries[subject] = (time.monotonic(), key)
            self._entries.move_to_end(subject)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class PostgresKeyStore(KeyStore):
    """Keys in the service's database, next to its events; a destroyed key leaves a row without
    key bytes behind, so that the subject can never be given a new one."""

    # Creates the missing keys and answers every subject's row in one statement; a destroyed
    # subject's row is touched without reviving it and comes back with a NULL key.
    _UPSERT = (
        f"INSERT INTO {KEYS_TABLE} (subject_id, key)"
        " SELECT s, k FROM unnest(%s::uuid[], %s::bytea[]) AS t(s, k)"
        " ON CONFLICT (subject_id) DO UPDATE SET subject_id = EXCLUDED.subject_id"
        " RETURNING subject_id, key"
    )

    def __init__(
        self, dsn: str, *, cache_seconds: float = KEY_CACHE_SECONDS, cache_size: int = 50_000
    ) -> None:
        self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
        self._cache = _KeyCache(cache_seconds, cache_size)
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (KEYS_TABLE,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} ("
                " subject_id uuid PRIMARY KEY, key bytea,"
                " created_at timestamptz NOT NULL DEFAULT now(), destroyed_at timestamptz)"
            )

    def key(self, subject: UUID) -> bytes | None:
        hit, key = self._cache.get(subject)
        if not hit:
            self.prefetch([subject])
            key = self._cache.get(subject)[1]
        return key

    def key_for_writing(self, subject: UUID) -> bytes:
        hit, key = self._cache.get(subject)
        if not hit or key is None:
            self.prefetch([subject], for_writing=True)
            key = self._cache.get(subject)[1]
        if key is None:
            raise PersonalDataErased(subject)
        return key

    def prefetch(self, subjects: Iterable[UUID], *, for_writing: bool = False) -> None:
        wanted = list(dict.fromkeys(subjects))
        if not wanted:
            return
        with self._pool.connection() as conn:
            if for_writing:
                fresh = [new_key() for _ in wanted]  # used only for subjects without a row
                rows = conn.execute(self._UPSERT, (wanted, fresh)).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT subject_id, key FROM {KEYS_TABLE} WHERE subject_id = ANY(%s)",
                    (wanted,),
                ).fetchall()
        found = {row[0]: None if row[1] is None else bytes(row[1]) for row in rows}
        for subject in wanted:
            self._cache.put(subject, found.get(subject))

    def destroy(self, subject: UUID) -> bool:
        with self._pool.connection() as conn:
            cursor = conn.execute(
                f"INSERT INTO {KEYS_TABLE} (subject_id, key, destroyed_at) VALUES (%s, NULL, now())"
                " ON CONFLICT (subject_id) DO UPDATE SET key = NULL, destroyed_at = now()"
                f" WHERE {KEYS_TABLE}.key IS NOT NULL",
                (subject,),
            )
            destroyed = cursor.rowcount > 0
        self._cache.put(subject, None)
        return destroyed

    def is_destroyed(self, subject: UUID) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT destroyed_at FROM {KEYS_TABLE} WHERE subject_id = %s", (subject,)
            ).fetchone()
        return row is not None and row[0] is not None

    def close(self) -> None:
        self._pool.close()


# --- the event store's mapper -----------------------------------------------------------------


def _holds_personal_data(aggregate_topic: str) -> bool:
    aggregate = resolve_topic(aggregate_topic)
    return any(isinstance(v, type) and personal_fields(v) for v in vars(aggregate).values())


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {"kid", "alg", "iv", "ct"}


class ShreddingMapper(ContextCapturingMapper):
    """Seals declared personal fields on the way in; opens them (``to_domain_event``) or keeps
    them sealed (``decode_with_metadata``, the relay's view) on the way out."""

    keys: KeyStore

    def __init__(self, transcoder: Transcoder, *, keys: KeyStore, **options: Any) -> None:
        super().__init__(transcoder=transcoder, **options)
        self.keys = keys

    def stored_state(self, domain_event: Any) -> dict[str, Any]:
        if isinstance(domain_event, Snapshot) and _holds_personal_data(domain_event.topic):
            # A snapshot stores the aggregate's state as it is: its personal data in clear.
            raise TypeError(f"{domain_event.topic} holds personal data: do not snapshot it")
        state = super().stored_state(domain_event)
        fields = personal_fields(type(domain_event))
        present = [f for f in fields if state.get(f) is not None]
        if present:
            subject = domain_event.originator_id
            key = self.keys.key_for_writing(subject)
            for field in present:
                # Through the transcoder, so values of any registered type survive the round trip.
                value = json.loads(self.transcoder.encode(state[field]))
                state[field] = seal(value, key=key, subject=subject).model_dump(mode="json")
        return state

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        state = vars(domain_event)
        fields = [f for f in personal_fields(type(domain_event)) if _is_sealed(state.get(f))]
        if fields:
            key = self.keys.key(domain_event.originator_id)
            for field in fields:
                state[field] = None if key is None else self._open(state[field], key)
        return domain_event

    def decode_with_metadata(self, stored_event: StoredEvent) -> tuple[Any, Any]:
        domain_event, metadata = super().decode_with_metadata(stored_event)
        state = vars(domain_event)
        for field in personal_fields(type(domain_event)):
            if _is_sealed(state.get(field)):
                state[field] = Sealed.model_validate(state[field])
        return domain_event, metadata

    def _open(self, sealed: dict[str, Any], key: bytes) -> Any:
        value = unseal(Sealed.model_validate(sealed), key)
        return self.transcoder.decode(json.dumps(value).encode())


class ShreddingApplication(Application[UUID]):
    """An eventsourcing application whose domain events may hold personal data."""

    personal_data_keys: KeyStore

    def construct_mapper(self) -> Mapper[UUID]:
        plain = super().construct_mapper()
        self.personal_data_keys = self.construct_key_store()
        return ShreddingMapper(
            plain.transcoder,
            keys=self.personal_data_keys,
            cipher=plain.cipher,
            compressor=plain.compressor,
        )

    def _record(self, processing_event: Any) -> Any:
        """Create the keys of every subject in the batch in one round trip before sealing."""
        self.personal_data_keys.prefetch(
            (e.originator_id for e in processing_event.events if personal_fields(type(e))),
            for_writing=True,
        )
        return super()._record(processing_event)

    def construct_key_store(self) -> KeyStore:
        if self.env.get("PERSISTENCE_MODULE", "") != "eventsourcing.postgres":
            return MemoryKeyStore()
        dsn = psycopg.conninfo.make_conninfo(
            host=self.env.get("POSTGRES_HOST"),
            port=self.env.get("POSTGRES_PORT"),
            user=self.env.get("POSTGRES_USER"),
            password=self.env.get("POSTGRES_PASSWORD"),
            dbname=self.env.get("POSTGRES_DBNAME"),
        )
        return PostgresKeyStore(dsn)

    def close(self) -> None:
        keys = getattr(self, "personal_data_keys", None)
        if isinstance(keys, PostgresKeyStore):
            keys.close()
        super().close()


def sealed_subjects(value: Any) -> set[UUID]:
    """The subjects whose keys seal anything inside ``value`` (an event payload, a list...)."""
    if isinstance(value, Sealed):
        return {value.kid}
    if isinstance(value, dict):
        return set().union(*(sealed_subjects(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(sealed_subjects(v) for v in value))
    if hasattr(value, "__pydantic_fields__"):
        return sealed_subjects({name: getattr(value, name) for name in value.__pydantic_fields__})
    return set()


# --- consumers' keyrings ----------------------------------------------------------------------


class Keyring(ABC):
    """A consumer's copy of the keys it was given; a destroyed key is remembered as destroyed,
    so a late or replayed ``PersonalDataKeyIssued`` cannot bring it back."""

    @abstractmethod
    async def _load(self, subject: UUID) -> tuple[bool, bytes | None] | None:
        """(destroyed, key) for a subject seen on the key topic; None for one never seen."""

    @abstractmethod
    async def _store(self, subject: UUID, key: bytes | None) -> None:
        """Keep ``key``, or with None remember the subject as destroyed (for good). Atomic: a
        key never replaces a destroyed one, even when the two race (a replayed announcement
        read at the moment the destruction arrives)."""

    async def issued(self, subject: UUID, key: bytes) -> None:
        await self._store(subject, key)

    async def destroyed(self, subject: UUID) -> None:
        await self._store(subject, None)

    async def key(self, subject: UUID) -> bytes | None:
        """The key; None once destroyed; ``KeyNotYetKnown`` before it arrives."""
        known = await self._load(subject)
        if known is None:
            raise KeyNotYetKnown(subject)
        return known[1]

    async def unseal(self, sealed: Sealed | None) -> Any:
        """The plaintext; None for None or an erased subject."""
        if sealed is None:
            return None
        key = await self.key(sealed.kid)
        return None if key is None else unseal(sealed, key)

    async def unseal_or_none(self, sealed: Sealed | None) -> Any:
        """Like ``unseal``, but None also while the key has not arrived (for read paths)."""
        try:
            return await self.unseal(sealed)
        except KeyNotYetKnown:
            return None


class MemoryKeyring(Keyring):
    def __init__(self) -> None:
        self._keys: dict[UUID, bytes | None] = {}

    async def _load(self, subject: UUID) -> tuple[bool, bytes | None] | None:
        if subject not in self._keys:
            return None
        key = self._keys[subject]
        return key is None, key

    async def _store(self, subject: UUID, key: bytes | None) -> None:
        if key is None or self._keys.get(subject, b"") is not None:
            self._keys[subject] = key


class MongoKeyring(Keyring):
    """Keys in a collection of the consumer's own database (``{_id, key, destroyed_at}``)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def _load(self, subject: UUID) -> tuple[bool, bytes | None] | None:
        document = await self.collection.find_one({"_id": str(subject)})
        if document is None:
            return None
        key = document.get("key")
        return key is None, None if key is None else bytes(key)

    async def _store(self, subject: UUID, key: bytes | None) -> None:
        if key is None:
            change = {"key": None, "destroyed_at": datetime.now(UTC)}
            await self.collection.update_one({"_id": str(subject)}, {"$set": change}, upsert=True)
            return
        # Only a subject not destroyed takes the key; for a destroyed one the filter matches
        # nothing and the upsert's insert collides with the existing _id: the key stays gone.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.update_one(
                {"_id": str(subject), "destroyed_at": None}, {"$set": {"key": key}}, upsert=True
            )


class PostgresKeyring(Keyring):
    """Keys in a table of the consumer's own PostgreSQL database."""

    TABLE: ClassVar[str] = "crm_keyring"

    def __init__(self, dsn: str) -> None:
        self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.TABLE,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} ("
                " subject_id uuid PRIMARY KEY, key bytea, destroyed_at timestamptz)"
            )

    async def _load(self, subject: UUID) -> tuple[bool, bytes | None] | None:
        return self.load(subject)

    async def _store(self, subject: UUID, key: bytes | None) -> None:
        self.store(subject, key)

    def load(self, subject: UUID) -> tuple[bool, bytes | None] | None:
        """Synchronous, for handlers that run in threads (eventsourcing applications)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT key, destroyed_at FROM {self.TABLE} WHERE subject_id = %s", (subject,)
            ).fetchone()
        if row is None:
            return None
        return row[1] is not None, None if row[0] is None else bytes(row[0])

    def store(self, subject: UUID, key: bytes | None) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {self.TABLE} (subject_id, key, destroyed_at)"
                " VALUES (%s, %s, CASE WHEN %s::bytea IS NULL THEN now() END)"
                " ON CONFLICT (subject_id) DO UPDATE"
                " SET key = EXCLUDED.key, destroyed_at = EXCLUDED.destroyed_at"
                f" WHERE {self.TABLE}.destroyed_at IS NULL",
                (subject, key, key),
            )

    def unseal_sync(self, sealed: Sealed | None) -> Any:
        """``unseal`` for synchronous callers."""
        if sealed is None:
            return None
        known = self.load(sealed.kid)
        if known is None:
            raise KeyNotYetKnown(sealed.kid)
        return None if known[1] is None else unseal(sealed, known[1])

    def close(self) -> None:
        self._pool.close()


KEY_TOPIC = PersonalDataKeyIssued.topic()


def subscribe_personal_data_keys(
    broker: KafkaBroker, keyring: Keyring, *, group_id: str, **options: Any
) -> Any:
    """Keep ``keyring`` up to date from the key topic (read from its beginning)."""

    async def apply(event: Event[Any]) -> None:
        data = event.data
        if isinstance(data, PersonalDataKeyIssued):
            await keyring.issued(data.subject_id, decode_key(data.key))
        elif isinstance(data, PersonalDataKeyDestroyed):
            await keyring.destroyed(data.subject_id)

    return subscribe_events(broker, KEY_TOPIC, group_id=group_id, handler=apply, **options)
