"""The service desk's own tables beside its event store: what aggregates alone cannot answer.

- tickets: reference, customer and the next SLA deadline of every ticket, derived from the ticket
  (the SLA scheduler polls the due ones; threading and erasure look tickets up);
- articles: the published knowledge base, full-text searchable;
- customer e-mails: which customer an inbound sender is, learned from contacts' events (only a
  SHA-256 of each address is kept: enough to match a sender, never readable back); a ticket
  from an unknown sender keeps the same digest of its sender, so it is linked to the customer
  whose address it later becomes;
- the position in the notification log up to which the first two are known to be current.

Each row is derived from an aggregate and guarded by its version, so writing one again, late or
twice, is harmless: commands write right after saving, and a catch-up from the notification log
repairs whatever a crash between the two left behind. PostgreSQL in production, memory in the
unit tests (POPO store).
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from psycopg import Connection
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from ..domain import Article, Ticket

MAX_SEARCH_RESULTS = 50


@dataclass(frozen=True)
class TicketRow:
    ticket_id: UUID
    reference: str
    customer_id: UUID | None
    status: str
    priority: str
    assignee: str | None
    opened_at: datetime
    version: int
    next_due: datetime | None  # the earliest pending SLA deadline
    sender_digest: bytes | None  # an unknown sender's address, hashed (``email_digest``)

    @classmethod
    def of(cls, ticket: Ticket) -> TicketRow:
        deadlines = ticket.pending_deadlines().values()
        unknown_sender = ticket.customer_id is None and ticket.requester_email is not None
        return cls(
            ticket_id=ticket.id,
            reference=ticket.reference,
            customer_id=ticket.customer_id,
            status=ticket.status.value,
            priority=ticket.priority.value,
            assignee=ticket.assignee,
            opened_at=ticket.opened_at,
            version=ticket.version,
            next_due=min(deadlines, default=None),
            sender_digest=email_digest(ticket.requester_email) if unknown_sender else None,
        )


@dataclass(frozen=True)
class ArticleRow:
    article_id: UUID
    revision: int
    title: str
    body: str
    tags: list[str]
    published_at: datetime
    version: int

    @classmethod
    def of(cls, article: Article) -> ArticleRow | None:
        """The published text; None while it was never published."""
        if article.published_at is None:
            return None
        return cls(
            article_id=article.id,
            revision=article.revision,
            title=article.title,
            body=article.body,
            tags=list(article.tags),
            published_at=article.published_at,
            version=article.version,
        )


@dataclass(frozen=True)
class TicketFilter:
    """A queue of tickets: every criterion given must hold."""

    status: str | None = None
    priority: str | None = None
    assignee: str | None = None
    customer_id: UUID | None = None

    def matches(self, row: TicketRow) -> bool:
        wanted = {k: v for k, v in vars(self).items() if v is not None}
        return all(getattr(row, k) == v for k, v in wanted.items())


# A page ends after this ticket: the newest first, ties broken by id.
Position = tuple[datetime, UUID]


def email_digest(address: str) -> bytes:
    return hashlib.sha256(address.strip().lower().encode()).digest()


class Claim(Protocol):
    """Tickets due for an SLA check, held for this scheduler only until the block ends."""

    tickets: list[UUID]

    def update(self, row: TicketRow) -> None: ...


class Index(ABC):
    @abstractmethod
    def put_ticket(self, row: TicketRow) -> None: ...

    @abstractmethod
    def ticket_by_reference(self, reference: str) -> UUID | None: ...

    @abstractmethod
    def tickets_of(self, customer_id: UUID) -> list[UUID]: ...

    @abstractmethod
    def find_tickets(self, where: TicketFilter, after: Position | None, limit: int) -> list[UUID]:
        """Ticket ids, newest first, after ``after``."""

    @abstractmethod
    def claim_due(self, now: datetime, limit: int) -> AbstractContextManager[Claim]:
        """Due tickets no other scheduler holds (``FOR UPDATE SKIP LOCKED``)."""

    @abstractmethod
    def put_article(self, row: ArticleRow) -> None: ...

    @abstractmethod
    def search_articles(self, query: str, limit: int) -> list[ArticleRow]: ...

    @abstractmethod
    def learn_email(self, customer_id: UUID, address: str) -> None: ...

    @abstractmethod
    def customer_by_email(self, address: str) -> UUID | None: ...

    @abstractmethod
    def forget_customer(self, customer_id: UUID) -> None: ...

    @abstractmethod
    def tickets_from_unknown(self, address: str) -> list[UUID]:
        """Tickets without a customer whose sender had this address."""

    @abstractmethod
    def position(self) -> int: ...

    @abstractmethod
    def set_position(self, position: int) -> None: ...

    def close(self) -> None:
        return None


class MemoryIndex(Index):
    def __init__(self) -> None:
        self._tickets: dict[UUID, TicketRow] = {}
        self._articles: dict[UUID, ArticleRow] = {}
        self._emails: dict[bytes, UUID] = {}
        self._position = 0
        self._lock = threading.RLock()

    def put_ticket(self, row: TicketRow) -> None:
        with self._lock:
            known = self._tickets.get(row.ticket_id)
            if known is None or known.version < row.version:
                self._tickets[row.ticket_id] = row

    def ticket_by_reference(self, reference: str) -> UUID | None:
        found = [r.ticket_id for r in self._tickets.values() if r.reference == reference]
        return found[0] if len(found) == 1 else None

    def tickets_of(self, customer_id: UUID) -> list[UUID]:
        return [r.ticket_id for r in self._tickets.values() if r.customer_id == customer_id]

    def find_tickets(self, where: TicketFilter, after: Position | None, limit: int) -> list[UUID]:
        rows = sorted(
            (r for r in self._tickets.values() if where.matches(r)),
            key=lambda r: (r.opened_at, r.ticket_id),
            reverse=True,
        )
        if after is not None:
            rows = [r for r in rows if (r.opened_at, r.ticket_id) < after]
        return [r.ticket_id for r in rows[:limit]]

    @contextmanager
    def claim_due(self, now: datetime, limit: int) -> Iterator[Claim]:
        with self._lock:
            due = sorted(
                (r for r in self._tickets.values() if r.next_due and r.next_due <= now),
                key=lambda r: r.next_due or now,
            )
            yield _MemoryClaim([r.ticket_id for r in due[:limit]], self)

    def put_article(self, row: ArticleRow) -> None:
        with self._lock:
            known = self._articles.get(row.article_id)
            if known is None or known.version < row.version:
                self._articles[row.article_id] = row

    def search_articles(self, query: str, limit: int) -> list[ArticleRow]:
        """Every word must occur in the title, body or tags (case-insensitive)."""
        words = query.lower().split()

        def text(row: ArticleRow) -> str:
            return " ".join([row.title, row.body, *row.tags]).lower()

        hits = [r for r in self._articles.values() if all(w in text(r) for w in words)]
        return sorted(hits, key=lambda r: r.published_at, reverse=True)[:limit]

    def learn_email(self, customer_id: UUID, address: str) -> None:
        self._emails[email_digest(address)] = customer_id

    def customer_by_email(self, address: str) -> UUID | None:
        return self._emails.get(email_digest(address))

    def tickets_from_unknown(self, address: str) -> list[UUID]:
        digest = email_digest(address)
        return [r.ticket_id for r in self._tickets.values() if r.sender_digest == digest]

    def forget_customer(self, customer_id: UUID) -> None:
        with self._lock:
            for digest in [d for d, c in self._emails.items() if c == customer_id]:
                del self._emails[digest]

    def position(self) -> int:
        return self._position

    def set_position(self, position: int) -> None:
        self._position = max(self._position, position)


@dataclass
class _MemoryClaim:
    tickets: list[UUID]
    index: MemoryIndex

    def update(self, row: TicketRow) -> None:
        self.index.put_ticket(row)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sd_tickets (
    ticket_id uuid PRIMARY KEY,
    reference text NOT NULL,
    customer_id uuid,
    status text NOT NULL,
    priority text NOT NULL,
    assignee text,
    opened_at timestamptz NOT NULL,
    version integer NOT NULL,
    next_due timestamptz
);
ALTER TABLE sd_tickets ADD COLUMN IF NOT EXISTS sender_digest bytea;
CREATE INDEX IF NOT EXISTS sd_tickets_unknown_sender ON sd_tickets (sender_digest)
    WHERE sender_digest IS NOT NULL;
CREATE INDEX IF NOT EXISTS sd_tickets_queue ON sd_tickets (opened_at DESC, ticket_id DESC);
CREATE INDEX IF NOT EXISTS sd_tickets_reference ON sd_tickets (reference);
CREATE INDEX IF NOT EXISTS sd_tickets_customer ON sd_tickets (customer_id);
CREATE INDEX IF NOT EXISTS sd_tickets_due ON sd_tickets (next_due) WHERE next_due IS NOT NULL;
CREATE TABLE IF NOT EXISTS sd_articles (
    article_id uuid PRIMARY KEY,
    revision integer NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    tags text[] NOT NULL,
    tag_words text NOT NULL,  -- the tags joined: array_to_string is not immutable
    published_at timestamptz NOT NULL,
    version integer NOT NULL,
    document tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('simple', tag_words), 'B')
        || setweight(to_tsvector('english', body), 'C')
    ) STORED
);
CREATE INDEX IF NOT EXISTS sd_articles_document ON sd_articles USING gin (document);
CREATE TABLE IF NOT EXISTS sd_customer_emails (
    email_digest bytea PRIMARY KEY,
    customer_id uuid NOT NULL
);
CREATE INDEX IF NOT EXISTS sd_customer_emails_customer ON sd_customer_emails (customer_id);
CREATE TABLE IF NOT EXISTS sd_index_position (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position bigint NOT NULL
);
"""

_PUT_TICKET = """
INSERT INTO sd_tickets
    (ticket_id, reference, customer_id, status, priority, assignee, opened_at, version, next_due,
    sender_digest)
VALUES (%(ticket_id)s, %(reference)s, %(customer_id)s, %(status)s, %(priority)s, %(assignee)s,
    %(opened_at)s, %(version)s, %(next_due)s, %(sender_digest)s)
ON CONFLICT (ticket_id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, status = EXCLUDED.status,
    priority = EXCLUDED.priority, assignee = EXCLUDED.assignee,
    version = EXCLUDED.version, next_due = EXCLUDED.next_due,
    sender_digest = EXCLUDED.sender_digest
WHERE sd_tickets.version < EXCLUDED.version
"""


class PostgresIndex(Index):
    def __init__(self, dsn: str) -> None:
        self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('sd_index_schema'))")
            conn.execute(_SCHEMA)

    def put_ticket(self, row: TicketRow) -> None:
        with self._pool.connection() as conn:
            conn.execute(_PUT_TICKET, vars(row))

    def ticket_by_reference(self, reference: str) -> UUID | None:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT ticket_id FROM sd_tickets WHERE reference = %s LIMIT 2", (reference,)
            ).fetchall()
        return rows[0][0] if len(rows) == 1 else None

    def tickets_of(self, customer_id: UUID) -> list[UUID]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT ticket_id FROM sd_tickets WHERE customer_id = %s", (customer_id,)
            ).fetchall()
        return [row[0] for row in rows]

    def find_tickets(self, where: TicketFilter, after: Position | None, limit: int) -> list[UUID]:
        # The columns are the filter's own field names, never the caller's text.
        clauses: list[str] = ["true"]
        values: list[object] = []
        for column, value in vars(where).items():
            if value is not None:
                clauses.append(f"{column} = %s")
                values.append(value)
        if after is not None:
            clauses.append("(opened_at, ticket_id) < (%s, %s)")
            values.extend(after)
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT ticket_id FROM sd_tickets WHERE {' AND '.join(clauses)}"
                " ORDER BY opened_at DESC, ticket_id DESC LIMIT %s",
                (*values, limit),
            ).fetchall()
        return [row[0] for row in rows]

    @contextmanager
    def claim_due(self, now: datetime, limit: int) -> Iterator[Claim]:
        # The row locks last until the transaction ends: another scheduler skips these tickets
        # meanwhile, and sees their new deadlines (or none) afterwards.
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT ticket_id FROM sd_tickets WHERE next_due <= %s"
                " ORDER BY next_due LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit),
            ).fetchall()
            yield _PostgresClaim([row[0] for row in rows], conn)

    def put_article(self, row: ArticleRow) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO sd_articles"
                " (article_id, revision, title, body, tags, tag_words, published_at, version)"
                " VALUES (%(article_id)s, %(revision)s, %(title)s, %(body)s, %(tags)s,"
                " %(tag_words)s, %(published_at)s, %(version)s)"
                " ON CONFLICT (article_id) DO UPDATE SET revision = EXCLUDED.revision,"
                " title = EXCLUDED.title, body = EXCLUDED.body, tags = EXCLUDED.tags,"
                " tag_words = EXCLUDED.tag_words, published_at = EXCLUDED.published_at,"
                " version = EXCLUDED.version WHERE sd_articles.version < EXCLUDED.version",
                {**vars(row), "tag_words": " ".join(row.tags)},
            )

    def search_articles(self, query: str, limit: int) -> list[ArticleRow]:
        """Web-search syntax ("quoted phrases", -excluded, or), in English and as typed."""
        with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(ArticleRow))
            return cursor.execute(
                "SELECT article_id, revision, title, body, tags, published_at, version"
                " FROM sd_articles,"
                " websearch_to_tsquery('english', %(q)s) AS english,"
                " websearch_to_tsquery('simple', %(q)s) AS simple"
                " WHERE document @@ english OR document @@ simple"
                " ORDER BY ts_rank(document, english || simple) DESC, published_at DESC"
                " LIMIT %(limit)s",
                {"q": query, "limit": limit},
            ).fetchall()

    def learn_email(self, customer_id: UUID, address: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO sd_customer_emails (email_digest, customer_id) VALUES (%s, %s)"
                " ON CONFLICT (email_digest) DO UPDATE SET customer_id = EXCLUDED.customer_id",
                (email_digest(address), customer_id),
            )

    def customer_by_email(self, address: str) -> UUID | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT customer_id FROM sd_customer_emails WHERE email_digest = %s",
                (email_digest(address),),
            ).fetchone()
        return None if row is None else row[0]

    def tickets_from_unknown(self, address: str) -> list[UUID]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT ticket_id FROM sd_tickets WHERE sender_digest = %s",
                (email_digest(address),),
            ).fetchall()
        return [row[0] for row in rows]

    def forget_customer(self, customer_id: UUID) -> None:
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM sd_customer_emails WHERE customer_id = %s", (customer_id,))

    def position(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT position FROM sd_index_position").fetchone()
        return 0 if row is None else int(row[0])

    def set_position(self, position: int) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO sd_index_position (position) VALUES (%s) ON CONFLICT (singleton)"
                " DO UPDATE SET position = GREATEST(sd_index_position.position, EXCLUDED.position)",
                (position,),
            )

    def close(self) -> None:
        self._pool.close()


@dataclass
class _PostgresClaim:
    tickets: list[UUID]
    conn: Connection[tuple[object, ...]]

    def update(self, row: TicketRow) -> None:
        self.conn.execute(_PUT_TICKET, vars(row))
