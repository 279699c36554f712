"""The commerce read model: products and invoices as rows, for lists and receivables.

The event store answers "this aggregate by id"; "the open invoices of a customer, newest first"
or "what each customer owes, per currency" need rows. This read model keeps a row per product and
invoice in the sales database (``read_models``: a local projection of the notification log, kept
current by the worker, caught up by every query), so every process shares one copy and a client
reads its own writes. Rows hold ids, codes, statuses and amounts only: nothing personal to erase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ...shared.application.read_models import AggregateRows, Where, upsert
from ...shared.copied import copied
from ...stored_topics import stored_topics_of
from ..domain.billing import OPEN_STATUSES, Invoice, InvoiceStatus
from ..domain.catalog import Product, ProductStatus

PROJECTION = "sales-commerce"
PRODUCTS = "commerce_products"
INVOICES = "commerce_invoices"


@dataclass(frozen=True)
class ProductRow:
    product_id: UUID
    sku: str
    name: str
    unit: str
    tax_category: str
    status: ProductStatus
    version: int
    supplier_ids: tuple[UUID, ...]  # the suppliers that provide it

    @classmethod
    def of(cls, product: Product) -> ProductRow:
        suppliers = tuple(sorted(product.suppliers))
        return cls(**copied(cls, product, product_id=product.id, supplier_ids=suppliers))


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
            **copied(
                cls,
                invoice,
                invoice_id=invoice.id,
                total=invoice.totals.total.amount,
                amount_paid=invoice.amount_paid.amount,
                balance_due=invoice.balance_due.amount,
            )
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
    supplier_id: UUID | None = None  # only the products this supplier provides


@dataclass(frozen=True)
class InvoiceQuery:
    """Invoices newest first (by number), before ``before_number``; OVERDUE selects the open
    ones past their due date on the day asked."""

    customer_id: UUID | None = None
    status: InvoiceStatus | None = None
    before_number: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class ReceivablesQuery:
    """What is owed by customer then currency, after ``after`` (a customer and a currency)."""

    customer_id: UUID | None = None
    currency: str | None = None
    after: tuple[UUID, str] | None = None
    limit: int = 50


_PRODUCT_COLUMNS = (
    "product_id",
    "sku",
    "name",
    "unit",
    "tax_category",
    "status",
    "version",
    "supplier_ids",
)
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
    # Added later: products had no supplier before, so the rows are right as they are.
    f"ALTER TABLE {PRODUCTS} ADD COLUMN IF NOT EXISTS supplier_ids uuid[] NOT NULL DEFAULT '{{}}'",
    f"CREATE INDEX IF NOT EXISTS {PRODUCTS}_suppliers ON {PRODUCTS} USING gin (supplier_ids)",
    f"CREATE TABLE IF NOT EXISTS {INVOICES} (invoice_id uuid PRIMARY KEY,"
    ' number text COLLATE "C" NOT NULL UNIQUE, customer_id uuid NOT NULL, account_id uuid,'
    " order_id uuid NOT NULL, currency text NOT NULL, total numeric NOT NULL,"
    " amount_paid numeric NOT NULL, balance_due numeric NOT NULL, status text NOT NULL,"
    " issued_on date NOT NULL, due_date date NOT NULL, version integer NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {INVOICES}_customer ON {INVOICES} (customer_id, number)",
    f"CREATE INDEX IF NOT EXISTS {INVOICES}_open ON {INVOICES} (customer_id, currency)"
    " WHERE status IN ('issued', 'partially_paid')",
)
_OPEN = "status IN ('issued', 'partially_paid')"


class CommerceViews(AggregateRows[Row]):
    """The read model (see the module): the worker's ``loop()``; queries catch up first."""

    name = PROJECTION
    topics = stored_topics_of(Product, Invoice)

    def create_schema(self, cursor: Any) -> None:
        for statement in _SCHEMA:
            cursor.execute(statement)

    def row(self, aggregate: Any, position: int) -> Row:
        if isinstance(aggregate, Product):
            return ProductRow.of(aggregate)
        return InvoiceRow.of(aggregate)

    def write(self, cursor: Any, changes: list[Row]) -> None:
        products = [r for r in changes if isinstance(r, ProductRow)]
        invoices = [r for r in changes if isinstance(r, InvoiceRow)]
        upsert(cursor, PRODUCTS, _PRODUCT_COLUMNS, _values(products, _PRODUCT_COLUMNS))
        upsert(cursor, INVOICES, _INVOICE_COLUMNS, _values(invoices, _INVOICE_COLUMNS))

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {PRODUCTS}, {INVOICES}")

    # --- queries (each catches up first) --------------------------------------------------------

    def products(self, query: ProductQuery) -> list[ProductRow]:
        where = Where()
        where.add("status = %s", query.status)
        where.add("sku > %s", query.after_sku)
        where.add("supplier_ids @> ARRAY[%s]::uuid[]", query.supplier_id)
        found = self.select(
            f"SELECT {', '.join(_PRODUCT_COLUMNS)} FROM {PRODUCTS}{where} ORDER BY sku LIMIT %s",
            [*where.params, query.limit],
        )
        return [
            ProductRow(
                **{
                    **r,
                    "status": ProductStatus(r["status"]),
                    "supplier_ids": tuple(r["supplier_ids"]),
                }
            )
            for r in found
        ]

    def invoices(self, query: InvoiceQuery, today: date) -> list[InvoiceRow]:
        where = Where()
        where.add("customer_id = %s", query.customer_id)
        recorded = _recorded_statuses(query.status)
        where.add("status = ANY(%s)", None if recorded is None else [s.value for s in recorded])
        if query.status is InvoiceStatus.OVERDUE:
            where.add("due_date < %s", today)
        elif query.status in OPEN_STATUSES:
            where.add("due_date >= %s", today)
        where.add("number < %s", query.before_number)
        found = self.select(
            f"SELECT {', '.join(_INVOICE_COLUMNS)} FROM {INVOICES}{where}"
            " ORDER BY number DESC LIMIT %s",
            [*where.params, query.limit],
        )
        return [InvoiceRow(**{**r, "status": InvoiceStatus(r["status"])}) for r in found]

    def receivables(self, query: ReceivablesQuery, today: date) -> list[Receivable]:
        where = Where()
        where.clauses.append(_OPEN)
        where.add("customer_id = %s", query.customer_id)
        where.add("currency = %s", query.currency)
        where.add("(customer_id, currency) > (%s, %s)", query.after)
        found = self.select(
            "SELECT customer_id, currency, count(*) AS open_invoices,"
            " sum(balance_due) AS balance_due,"
            " coalesce(sum(balance_due) FILTER (WHERE due_date < %s), 0) AS overdue"
            f" FROM {INVOICES}{where} GROUP BY customer_id, currency"
            " ORDER BY customer_id, currency LIMIT %s",
            [today, *where.params, query.limit],
        )
        return [Receivable(**r) for r in found]


def _recorded_statuses(status: InvoiceStatus | None) -> tuple[InvoiceStatus, ...] | None:
    """Recorded statuses a listed status can come from (OVERDUE: the open ones)."""
    if status is None:
        return None
    return OPEN_STATUSES if status is InvoiceStatus.OVERDUE else (status,)


def _values(rows: Sequence[Row], columns: Sequence[str]) -> list[list[Any]]:
    return [[_column(getattr(row, c)) for c in columns] for row in rows]


def _column(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value.value if isinstance(value, ProductStatus | InvoiceStatus) else value
