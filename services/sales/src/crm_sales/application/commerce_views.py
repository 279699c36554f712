"""The commerce read model: products and invoices as rows, for lists and receivables.

The event store answers "this aggregate by id"; "the open invoices of a customer, newest first"
or "what each customer owes, per currency" need rows. This projection follows the application's
notification log (only the product and invoice events), reloads each aggregate that changed and
writes its row. Queries catch it up first, so a client reads its own writes, and every process
(API replicas, the worker) shares one copy: the rows live in the service's own database, with the
position they reflect, written in one transaction. Several processes catching up at once do not
corrupt it: the rows' versions only go up, and the position only moves from where a writer read
it. Rows hold ids, codes, statuses and amounts only: nothing personal to erase.

Unit tests run the same projection on the in-memory event store, with rows in memory.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic

from ..domain.billing import OPEN_STATUSES, Invoice, InvoiceStatus
from ..domain.catalog import Product, ProductStatus

BATCH = 500
PRODUCTS = "commerce_products"
INVOICES = "commerce_invoices"
POSITION = "commerce_view_position"


@dataclass(frozen=True)
class ProductRow:
    product_id: UUID
    sku: str
    name: str
    unit: str
    tax_category: str
    status: ProductStatus
    version: int

    @classmethod
    def of(cls, product: Product) -> ProductRow:
        return cls(
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            unit=product.unit,
            tax_category=product.tax_category,
            status=product.status,
            version=product.version,
        )


@dataclass(frozen=True)
class InvoiceRow:
    invoice_id: UUID
    number: str
    customer_id: UUID
    account_id: UUID | None
    order_id: UUID
    currency: str
    total: Decimal
    amount_paid: Decimal
    balance_due: Decimal
    status: InvoiceStatus  # as recorded: never OVERDUE, which depends on the day asked
    issued_on: date
    due_date: date
    version: int

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceRow:
        return cls(
            invoice_id=invoice.id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            account_id=invoice.account_id,
            order_id=invoice.order_id,
            currency=invoice.currency,
            total=invoice.totals.total.amount,
            amount_paid=invoice.amount_paid.amount,
            balance_due=invoice.balance_due.amount,
            status=invoice.status,
            issued_on=invoice.issued_on,
            due_date=invoice.due_date,
            version=invoice.version,
        )

    def status_on(self, today: date) -> InvoiceStatus:
        if self.status in OPEN_STATUSES and today > self.due_date:
            return InvoiceStatus.OVERDUE
        return self.status


@dataclass(frozen=True)
class Receivable:
    """What one customer owes in one currency, and how much of it is overdue."""

    customer_id: UUID
    currency: str
    open_invoices: int
    balance_due: Decimal
    overdue: Decimal


Row = ProductRow | InvoiceRow


@dataclass(frozen=True)
class ProductQuery:
    """Products by SKU (code point order), after ``after_sku``."""

    status: ProductStatus | None = None
    after_sku: str | None = None
    limit: int = 50

    def matches(self, row: ProductRow) -> bool:
        return (self.status is None or row.status is self.status) and (
            self.after_sku is None or row.sku > self.after_sku
        )


@dataclass(frozen=True)
class InvoiceQuery:
    """Invoices newest first (by number), before ``before_number``; OVERDUE selects the open
    ones past their due date on the day asked."""

    customer_id: UUID | None = None
    status: InvoiceStatus | None = None
    before_number: str | None = None
    limit: int = 50

    def matches(self, row: InvoiceRow, today: date) -> bool:
        return (
            (self.customer_id is None or row.customer_id == self.customer_id)
            and (self.status is None or row.status_on(today) is self.status)
            and (self.before_number is None or row.number < self.before_number)
        )


@dataclass(frozen=True)
class ReceivablesQuery:
    """What is owed by customer then currency, after ``after`` (a customer and a currency)."""

    customer_id: UUID | None = None
    currency: str | None = None
    after: tuple[UUID, str] | None = None
    limit: int = 50

    def matches(self, key: tuple[UUID, str]) -> bool:
        return (
            (self.customer_id is None or key[0] == self.customer_id)
            and (self.currency is None or key[1] == self.currency)
            and (self.after is None or key > self.after)
        )


class CommerceViewStore(ABC):
    """Where the rows and their position are kept (PostgreSQL, or memory in unit tests)."""

    @abstractmethod
    def position(self) -> int:
        """The id of the last notification the rows reflect (0: none)."""

    @abstractmethod
    def write(self, rows: Sequence[Row], *, read_from: int, position: int) -> bool:
        """Upsert ``rows`` (never to a lower version) and move the position from ``read_from``
        to ``position``, atomically; False, writing nothing, if it is not at ``read_from``."""

    @abstractmethod
    def products(self, query: ProductQuery) -> list[ProductRow]: ...

    @abstractmethod
    def invoices(self, query: InvoiceQuery, today: date) -> list[InvoiceRow]: ...

    @abstractmethod
    def receivables(self, query: ReceivablesQuery, today: date) -> list[Receivable]:
        """Only the open invoices' balances; the overdue part is read for ``today``."""


class CommerceViews:
    """The projection: brings the store up to date with the application's log."""

    def __init__(self, application: Application[UUID], store: CommerceViewStore) -> None:
        self._application = application
        self.store = store
        self._topics = _event_topics(Product, Invoice)

    def catch_up(self) -> None:
        recorder = self._application.recorder
        while True:
            read_from = self.store.position()
            notifications = recorder.select_notifications(
                start=read_from, limit=BATCH, topics=self._topics, inclusive_of_start=False
            )
            if not notifications:
                return
            changed = dict.fromkeys(n.originator_id for n in notifications)
            rows = [_row(self._application.repository.get(i)) for i in changed]
            # When another process moved the position meanwhile, read again from there.
            self.store.write(rows, read_from=read_from, position=notifications[-1].id)


def _row(aggregate: Any) -> Row:
    return ProductRow.of(aggregate) if isinstance(aggregate, Product) else InvoiceRow.of(aggregate)


def _event_topics(*aggregate_classes: type) -> list[str]:
    """The topics of every domain event class of the aggregates (nested in their classes)."""
    return [
        get_topic(member)
        for cls in aggregate_classes
        for member in vars(cls).values()
        if isinstance(member, type) and issubclass(member, DomainEvent)
    ]


class MemoryViewStore(CommerceViewStore):
    """For the in-memory (POPO) event store of unit tests: the same rows, filtered in Python."""

    def __init__(self) -> None:
        self._position = 0
        self._products: dict[UUID, ProductRow] = {}
        self._invoices: dict[UUID, InvoiceRow] = {}
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def write(self, rows: Sequence[Row], *, read_from: int, position: int) -> bool:
        with self._lock:
            if self._position != read_from:
                return False
            for row in rows:
                table: dict[UUID, Any] = (
                    self._products if isinstance(row, ProductRow) else self._invoices
                )
                key = row.product_id if isinstance(row, ProductRow) else row.invoice_id
                if key not in table or table[key].version < row.version:
                    table[key] = row
            self._position = position
            return True

    def products(self, query: ProductQuery) -> list[ProductRow]:
        rows = sorted(self._products.values(), key=lambda r: r.sku)
        return [r for r in rows if query.matches(r)][: query.limit]

    def invoices(self, query: InvoiceQuery, today: date) -> list[InvoiceRow]:
        rows = sorted(self._invoices.values(), key=lambda r: r.number, reverse=True)
        return [r for r in rows if query.matches(r, today)][: query.limit]

    def receivables(self, query: ReceivablesQuery, today: date) -> list[Receivable]:
        owed: dict[tuple[UUID, str], list[InvoiceRow]] = {}
        for row in self._invoices.values():
            if row.status in OPEN_STATUSES:
                owed.setdefault((row.customer_id, row.currency), []).append(row)
        keys = sorted(key for key in owed if query.matches(key))
        return [_receivable(key, owed[key], today) for key in keys[: query.limit]]


def _receivable(key: tuple[UUID, str], rows: Iterable[InvoiceRow], today: date) -> Receivable:
    rows = list(rows)
    return Receivable(
        customer_id=key[0],
        currency=key[1],
        open_invoices=len(rows),
        balance_due=sum((r.balance_due for r in rows), Decimal(0)),
        overdue=sum((r.balance_due for r in rows if today > r.due_date), Decimal(0)),
    )


_PRODUCT_COLUMNS = ("product_id", "sku", "name", "unit", "tax_category", "status", "version")
_INVOICE_COLUMNS = (
    "invoice_id",
    "number",
    "customer_id",
    "account_id",
    "order_id",
    "currency",
    "total",
    "amount_paid",
    "balance_due",
    "status",
    "issued_on",
    "due_date",
    "version",
)
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {PRODUCTS} (product_id uuid PRIMARY KEY,"
    ' sku text COLLATE "C" NOT NULL, name text NOT NULL, unit text NOT NULL,'
    " tax_category text NOT NULL, status text NOT NULL, version integer NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {PRODUCTS}_sku ON {PRODUCTS} (sku)",
    f"CREATE TABLE IF NOT EXISTS {INVOICES} (invoice_id uuid PRIMARY KEY,"
    ' number text COLLATE "C" NOT NULL UNIQUE, customer_id uuid NOT NULL, account_id uuid,'
    " order_id uuid NOT NULL, currency text NOT NULL, total numeric NOT NULL,"
    " amount_paid numeric NOT NULL, balance_due numeric NOT NULL, status text NOT NULL,"
    " issued_on date NOT NULL, due_date date NOT NULL, version integer NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {INVOICES}_customer ON {INVOICES} (customer_id, number)",
    f"CREATE INDEX IF NOT EXISTS {INVOICES}_open ON {INVOICES} (customer_id, currency)"
    " WHERE status IN ('issued', 'partially_paid')",
    f"CREATE TABLE IF NOT EXISTS {POSITION} (name text PRIMARY KEY, notification_id bigint)",
    f"INSERT INTO {POSITION} VALUES ('commerce', 0) ON CONFLICT (name) DO NOTHING",
)
_OPEN = "status IN ('issued', 'partially_paid')"


class PostgresViewStore(CommerceViewStore):
    """Tables of the service's database, reached through the application's connection pool
    (``datastore``: eventsourcing's PostgresDatastore, whose cursors return dict rows)."""

    def __init__(self, datastore: Any, *, create_tables: bool) -> None:
        self._datastore = datastore
        if create_tables:  # the application is built under the platform's schema lock
            with datastore.transaction(commit=True) as cursor:
                for statement in _SCHEMA:
                    cursor.execute(statement)

    def position(self) -> int:
        with self._datastore.transaction() as cursor:
            cursor.execute(f"SELECT notification_id FROM {POSITION} WHERE name = 'commerce'")
            found = cursor.fetchone()
        return int(found["notification_id"]) if found else 0

    def write(self, rows: Sequence[Row], *, read_from: int, position: int) -> bool:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {POSITION} SET notification_id = %s"
                " WHERE name = 'commerce' AND notification_id = %s",
                (position, read_from),
            )
            if cursor.rowcount != 1:
                return False  # the row lock made us wait for the writer that moved it
            products = [r for r in rows if isinstance(r, ProductRow)]
            invoices = [r for r in rows if isinstance(r, InvoiceRow)]
            _upsert(cursor, PRODUCTS, _PRODUCT_COLUMNS, products)
            _upsert(cursor, INVOICES, _INVOICE_COLUMNS, invoices)
        return True

    def products(self, query: ProductQuery) -> list[ProductRow]:
        where = _Where()
        where.add("status = %s", query.status)
        where.add("sku > %s", query.after_sku)
        found = self._select(
            f"SELECT {', '.join(_PRODUCT_COLUMNS)} FROM {PRODUCTS}{where} ORDER BY sku LIMIT %s",
            [*where.params, query.limit],
        )
        return [ProductRow(**{**r, "status": ProductStatus(r["status"])}) for r in found]

    def invoices(self, query: InvoiceQuery, today: date) -> list[InvoiceRow]:
        where = _Where()
        where.add("customer_id = %s", query.customer_id)
        recorded = _recorded_statuses(query.status)
        where.add("status = ANY(%s)", None if recorded is None else [s.value for s in recorded])
        if query.status is InvoiceStatus.OVERDUE:
            where.add("due_date < %s", today)
        elif query.status in OPEN_STATUSES:
            where.add("due_date >= %s", today)
        where.add("number < %s", query.before_number)
        found = self._select(
            f"SELECT {', '.join(_INVOICE_COLUMNS)} FROM {INVOICES}{where}"
            " ORDER BY number DESC LIMIT %s",
            [*where.params, query.limit],
        )
        return [InvoiceRow(**{**r, "status": InvoiceStatus(r["status"])}) for r in found]

    def receivables(self, query: ReceivablesQuery, today: date) -> list[Receivable]:
        where = _Where()
        where.clauses.append(_OPEN)
        where.add("customer_id = %s", query.customer_id)
        where.add("currency = %s", query.currency)
        where.add("(customer_id, currency) > (%s, %s)", query.after)
        found = self._select(
            "SELECT customer_id, currency, count(*) AS open_invoices,"
            " sum(balance_due) AS balance_due,"
            " coalesce(sum(balance_due) FILTER (WHERE due_date < %s), 0) AS overdue"
            f" FROM {INVOICES}{where} GROUP BY customer_id, currency"
            " ORDER BY customer_id, currency LIMIT %s",
            [today, *where.params, query.limit],
        )
        return [Receivable(**r) for r in found]

    def _select(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._datastore.transaction() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())


def _recorded_statuses(status: InvoiceStatus | None) -> tuple[InvoiceStatus, ...] | None:
    """Recorded statuses a listed status can come from (OVERDUE: the open ones)."""
    if status is None:
        return None
    return OPEN_STATUSES if status is InvoiceStatus.OVERDUE else (status,)


class _Where:
    """AND-ed conditions, each added only when its parameter is given."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, value: Any) -> None:
        if value is None:
            return
        self.clauses.append(clause)
        self.params.extend(value if isinstance(value, tuple) else (value,))

    def __str__(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def _upsert(cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """Insert or update rows, never replacing a row by an older version of it."""
    if not rows:
        return
    key, *rest = columns
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({key}) DO UPDATE SET"
        f" {', '.join(f'{c} = EXCLUDED.{c}' for c in rest)}"
        f" WHERE {table}.version < EXCLUDED.version",
        [[_column(getattr(row, c)) for c in columns] for row in rows],
    )


def _column(value: Any) -> Any:
    return value.value if isinstance(value, ProductStatus | InvoiceStatus) else value
