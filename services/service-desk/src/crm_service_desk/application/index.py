"""The service desk's own tables beside its event store: what aggregates alone cannot answer.

- ``sd_tickets``: reference, customer, status, priority, category, assignee and the next SLA deadline of
  every ticket (the SLA scheduler reads the due ones; threading and erasure look tickets up); a
  ticket from an unknown sender keeps a SHA-256 of the address (``email_digest``), so that it is
  linked to the customer whose address it later becomes;
- ``sd_articles``: the published knowledge base, full-text searchable.

Both are a local projection of the notification log (``crm_platform.projection``): the worker's
loop keeps them current, and the application catches them up before a read that must see its
own writes (a ticket opened a moment ago is found by its reference). A row is the aggregate's
state, guarded by its version, so applying a record again, late or twice, is harmless. A record
whose row cannot be written (a NUL in an assignee, stored before the API refused it) is
quarantined by the projection, and the others go on.

- ``sd_customer_emails``: which customer an inbound sender is, and where to write to a
  customer, learned from contacts' events by the worker's consumer: the address's SHA-256 (the
  key an inbound sender is matched by) and the address itself (for the mail to the customer),
  deleted when contacts erases the customer. Not derived from this service's log, so a rebuild
  leaves it as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from crm_platform.projection import POSITIONS, LocalProjection, topics_of

from ..contracts import SOURCE_SERVICE
from ..domain import Article, Ticket

PROJECTION = "service-desk-index"
MAX_SEARCH_RESULTS = 50


@dataclass(frozen=True)
class TicketRow:
    ticket_id: UUID
    reference: str
    customer_id: UUID | None
    status: str
    priority: str
    category: str
    assignee: str | None
    opened_at: datetime
    version: int
    next_due: datetime | None  # the earliest pending SLA deadline
    customer_known: bool  # False: customer_id names a customer no service has heard of
    sender_digest: bytes | None  # an unknown sender's address, hashed (``email_digest``)

    @classmethod
    def of(cls, ticket: Ticket) -> TicketRow:
        deadlines = ticket.pending_deadlines().values()
        unknown_sender = ticket.requester_email if ticket.customer_id is None else None
        return cls(
            ticket_id=ticket.id,
            reference=ticket.reference,
            customer_id=ticket.customer_id,
            status=ticket.status.value,
            priority=ticket.priority.value,
            category=ticket.category.value,
            assignee=ticket.assignee,
            opened_at=ticket.opened_at,
            version=ticket.version,
            next_due=min(deadlines, default=None),
            customer_known=ticket.customer_known,
            sender_digest=None if unknown_sender is None else email_digest(unknown_sender),
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
    category: str | None = None
    assignee: str | None = None
    customer_id: UUID | None = None
    customer_known: bool | None = None


# A page of the queue ends after this ticket: the newest first, ties broken by id.
Position = tuple[datetime, UUID]
# A due ticket: its earliest pending deadline and its id, the order the scheduler reads them in.
Due = tuple[datetime, UUID]


def email_digest(address: str) -> bytes:
    return hashlib.sha256(address.strip().lower().encode()).digest()


# --- the projection -----------------------------------------------------------------------------

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
ALTER TABLE sd_tickets ADD COLUMN IF NOT EXISTS category text;
ALTER TABLE sd_tickets ADD COLUMN IF NOT EXISTS customer_known boolean;
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
ALTER TABLE sd_customer_emails ADD COLUMN IF NOT EXISTS address text;
ALTER TABLE sd_customer_emails ADD COLUMN IF NOT EXISTS learned_at timestamptz NOT NULL
    DEFAULT now();
"""
# A row is replaced by the same or a newer version of its aggregate only: an older state (a
# retried quarantine entry, a batch racing a retry) never overwrites a newer one.
_PUT_TICKET = """
INSERT INTO sd_tickets
    (ticket_id, reference, customer_id, status, priority, category, assignee, opened_at, version,
    next_due, customer_known, sender_digest)
VALUES (%(ticket_id)s, %(reference)s, %(customer_id)s, %(status)s, %(priority)s, %(category)s,
    %(assignee)s, %(opened_at)s, %(version)s, %(next_due)s, %(customer_known)s,
    %(sender_digest)s)
ON CONFLICT (ticket_id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, status = EXCLUDED.status,
    priority = EXCLUDED.priority, category = EXCLUDED.category, assignee = EXCLUDED.assignee,
    version = EXCLUDED.version, next_due = EXCLUDED.next_due,
    customer_known = EXCLUDED.customer_known, sender_digest = EXCLUDED.sender_digest
WHERE sd_tickets.version <= EXCLUDED.version
"""
_PUT_ARTICLE = """
INSERT INTO sd_articles
    (article_id, revision, title, body, tags, tag_words, published_at, version)
VALUES (%(article_id)s, %(revision)s, %(title)s, %(body)s, %(tags)s, %(tag_words)s,
    %(published_at)s, %(version)s)
ON CONFLICT (article_id) DO UPDATE SET
    revision = EXCLUDED.revision, title = EXCLUDED.title, body = EXCLUDED.body,
    tags = EXCLUDED.tags, tag_words = EXCLUDED.tag_words, published_at = EXCLUDED.published_at,
    version = EXCLUDED.version
WHERE sd_articles.version <= EXCLUDED.version
"""


@dataclass(frozen=True)
class IndexChanges:
    tickets: list[TicketRow] = field(default_factory=list)
    articles: list[ArticleRow] = field(default_factory=list)

    @classmethod
    def of(cls, aggregates: Iterable[Any]) -> IndexChanges:
        """The rows of these tickets and articles (an article never published has none)."""
        changes = cls()
        for aggregate in aggregates:
            if isinstance(aggregate, Ticket):
                changes.tickets.append(TicketRow.of(aggregate))
            elif isinstance(aggregate, Article) and (row := ArticleRow.of(aggregate)):
                changes.articles.append(row)
        return changes


class IndexProjection(LocalProjection[IndexChanges]):
    """Keeps ``sd_tickets`` and ``sd_articles`` current with the notification log (see the
    module); ``loop()`` is the worker's loop, ``catch_up()`` applies everything now."""

    name = PROJECTION
    topics = topics_of(Ticket, Article)

    def __init__(self, application: Application[Any], *, batch_size: int = 500) -> None:
        super().__init__(application, service=SOURCE_SERVICE, batch_size=batch_size)

    def create_schema(self, cursor: Any) -> None:
        cursor.execute(_SCHEMA)
        # Rows written before the category or customer_known column was added get it by
        # applying the log again.
        cursor.execute(
            f"UPDATE {POSITIONS} SET position = 0 WHERE name = %s AND EXISTS"
            " (SELECT 1 FROM sd_tickets WHERE category IS NULL OR customer_known IS NULL)",
            (self.name,),
        )

    def compute(self, notifications: Sequence[Notification]) -> IndexChanges:
        """The rows of the aggregates these notifications touched, as of the last of them."""
        last = {n.originator_id: n.originator_version for n in notifications}
        return IndexChanges.of(self._aggregate(id_, version) for id_, version in last.items())

    def compute_one(self, notification: Notification) -> IndexChanges:
        """The aggregate's current row: a ticket corrected since this notification applies."""
        return IndexChanges.of([self._aggregate(notification.originator_id, None)])

    def write(self, cursor: Any, changes: IndexChanges) -> None:
        if changes.tickets:
            cursor.executemany(_PUT_TICKET, [vars(row) for row in changes.tickets])
        if changes.articles:
            cursor.executemany(
                _PUT_ARTICLE,
                [{**vars(row), "tag_words": " ".join(row.tags)} for row in changes.articles],
            )

    def reset(self, cursor: Any) -> None:
        cursor.execute("TRUNCATE sd_tickets, sd_articles")  # the e-mails are not from the log

    def _aggregate(self, aggregate_id: UUID | str, version: int | None) -> Any:
        return self.application.repository.get(aggregate_id, version=version)


# --- queries ------------------------------------------------------------------------------------


class Index:
    """The index's queries, each in a short transaction of its own, and the e-mails learned.
    They read the tables as they are: ``catch_up()`` first to see the latest writes."""

    def __init__(self, application: Application[Any]) -> None:
        self.projection = IndexProjection(application)
        self.projection.create_tables()
        self.datastore = self.projection.datastore

    def catch_up(self) -> int:
        """Apply every notification not yet applied; how many were read."""
        return self.projection.catch_up()

    def ticket_by_reference(self, reference: str) -> UUID | None:
        rows = self._fetch(
            "SELECT ticket_id FROM sd_tickets WHERE reference = %s LIMIT 2", (reference,)
        )
        return rows[0]["ticket_id"] if len(rows) == 1 else None

    def tickets_of(self, customer_id: UUID) -> list[UUID]:
        rows = self._fetch(
            "SELECT ticket_id FROM sd_tickets WHERE customer_id = %s", (customer_id,)
        )
        return [row["ticket_id"] for row in rows]

    def tickets_from_unknown(self, address: str) -> list[UUID]:
        """Tickets without a customer whose sender had this address."""
        rows = self._fetch(
            "SELECT ticket_id FROM sd_tickets WHERE sender_digest = %s", (email_digest(address),)
        )
        return [row["ticket_id"] for row in rows]

    def find_tickets(self, where: TicketFilter, after: Position | None, limit: int) -> list[UUID]:
        """Ticket ids, newest first, after ``after``."""
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
        rows = self._fetch(
            f"SELECT ticket_id FROM sd_tickets WHERE {' AND '.join(clauses)}"
            " ORDER BY opened_at DESC, ticket_id DESC LIMIT %s",
            (*values, limit),
        )
        return [row["ticket_id"] for row in rows]

    def due_tickets(self, now: datetime, after: Due | None, limit: int) -> list[Due]:
        """Tickets with a pending deadline at or before ``now``, earliest first, after ``after``."""
        keyset = ""
        values: list[object] = [now]
        if after is not None:
            keyset = " AND (next_due, ticket_id) > (%s, %s)"
            values.extend(after)
        rows = self._fetch(
            f"SELECT next_due, ticket_id FROM sd_tickets WHERE next_due <= %s{keyset}"
            " ORDER BY next_due, ticket_id LIMIT %s",
            (*values, limit),
        )
        return [(row["next_due"], row["ticket_id"]) for row in rows]

    def search_articles(self, query: str, limit: int) -> list[ArticleRow]:
        """Web-search syntax ("quoted phrases", -excluded, or), in English and as typed."""
        rows = self._fetch(
            "SELECT article_id, revision, title, body, tags, published_at, version"
            " FROM sd_articles,"
            " websearch_to_tsquery('english', %(q)s) AS english,"
            " websearch_to_tsquery('simple', %(q)s) AS simple"
            " WHERE document @@ english OR document @@ simple"
            " ORDER BY ts_rank(document, english || simple) DESC, published_at DESC"
            " LIMIT %(limit)s",
            {"q": query, "limit": limit},
        )
        return [ArticleRow(**row) for row in rows]

    def learn_email(self, customer_id: UUID, address: str) -> None:
        self._execute(
            "INSERT INTO sd_customer_emails (email_digest, customer_id, address)"
            " VALUES (%s, %s, %s) ON CONFLICT (email_digest) DO UPDATE"
            " SET customer_id = EXCLUDED.customer_id, address = EXCLUDED.address",
            (email_digest(address), customer_id, address.strip().lower()),
        )

    def address_of(self, customer_id: UUID) -> str | None:
        """Where the service desk writes to the customer: the first address contacts told of
        (a registration lists the primary first); None when none is known (or was erased)."""
        rows = self._fetch(
            "SELECT address FROM sd_customer_emails WHERE customer_id = %s"
            " AND address IS NOT NULL ORDER BY learned_at, address LIMIT 1",
            (customer_id,),
        )
        return rows[0]["address"] if rows else None

    def customer_by_email(self, address: str) -> UUID | None:
        rows = self._fetch(
            "SELECT customer_id FROM sd_customer_emails WHERE email_digest = %s",
            (email_digest(address),),
        )
        return rows[0]["customer_id"] if rows else None

    def forget_customer(self, customer_id: UUID) -> None:
        self._execute("DELETE FROM sd_customer_emails WHERE customer_id = %s", (customer_id,))

    def _fetch(self, statement: str, params: Any) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    def _execute(self, statement: str, params: Any) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement, params)
