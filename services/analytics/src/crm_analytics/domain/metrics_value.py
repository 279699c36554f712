"""Customer value: purchase history, lifetime value, value tiers and RFM scores (pure functions).

Money figures are in one reporting currency (configured): orders and payments in other currencies
count for frequency and recency but not for money, and are reported as ``other_currencies``.
The contracts have no refund event yet, so the net revenue already paid is the sum of payments.

Lifetime value model::

    present  = net revenue already paid
    AOV      = mean total of the orders placed (reporting currency)
    F        = orders per year, over max(1 year, time from the first to the last order): the
               buying pace while active, which silence does not dilute (recency measures that)
    gap      = 365 / F days, the expected time between two orders
    alive    = 0.5 ** max(0, (recency - gap) / gap)   (halves with every gap of silence beyond one)
    r        = retention * alive
    future   = sum over t = 1..horizon of AOV * F * r**t / (1 + discount)**t
    CLV      = present + future
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_events.analytics import RfmSegment as Segment
from crm_events.analytics import ValueTier as Tier

from .metrics_facts import Entry

CENT = Decimal("0.01")
YEAR_DAYS = Decimal(365)
LINEAGE_CAP = 100  # event ids kept per figure: enough to audit, bounded in size


@dataclass(frozen=True)
class Order:
    event_id: str
    order_id: str
    at: datetime
    amount: Decimal
    currency: str
    products: tuple[str, ...]


@dataclass(frozen=True)
class Purchases:
    """A customer's orders still standing and payments, folded from their facts."""

    orders: tuple[Order, ...]
    paid: Decimal
    payment_events: tuple[str, ...]
    other_currencies: frozenset[str] = field(default_factory=frozenset)
    last_payment_at: datetime | None = None  # in any currency

    @property
    def last_purchase_at(self) -> datetime | None:
        """The latest order placed or payment received: where recency counts from."""
        times = [
            t for t in (self.orders[-1].at if self.orders else None, self.last_payment_at) if t
        ]
        return max(times, default=None)

    @property
    def order_events(self) -> list[str]:
        return [order.event_id for order in self.orders]

    def revenue_orders(self, currency: str) -> list[Order]:
        return [order for order in self.orders if order.currency == currency]


def purchases(facts: Mapping[str, Entry], currency: str) -> Purchases:
    """Orders not cancelled (whatever the order of arrival) and payments in ``currency``."""
    cancelled = {f["order_id"] for f in facts.values() if f["type"] == "OrderCancelled"}
    orders, payments, others = [], [], set()
    for event_id, fact in sorted(facts.items(), key=lambda item: (item[1]["at"], item[0])):
        if fact["type"] == "OrderPlaced" and fact["order_id"] not in cancelled:
            products = tuple(_product(line) for line in fact["lines"])
            amount = Decimal(fact["amount"])
            orders.append(
                Order(event_id, fact["order_id"], fact["at"], amount, fact["currency"], products)
            )
        elif fact["type"] == "PaymentReceived":
            payments.append((event_id, fact))
        else:
            continue
        if fact["currency"] != currency:
            others.add(fact["currency"])
    paid = [(event_id, f) for event_id, f in payments if f["currency"] == currency]
    return Purchases(
        orders=tuple(orders),
        paid=sum((Decimal(f["amount"]) for _, f in paid), Decimal(0)),
        payment_events=tuple(event_id for event_id, _ in paid),
        other_currencies=frozenset(others),
        last_payment_at=max((f["at"] for _, f in payments), default=None),
    )


def _product(line: Entry) -> str:
    """A line's product id, which the base's basket statistics compare with every other."""
    product = line["product_id"]
    if not isinstance(product, str):
        raise TypeError(f"a product id of type {type(product).__name__}: {product!r}")
    return product


@dataclass(frozen=True)
class ValueModel:
    """The lifetime value model's parameters (see the module docstring)."""

    retention: Decimal = Decimal("0.8")
    discount_rate: Decimal = Decimal("0.1")
    horizon_years: int = 3

    def __post_init__(self) -> None:
        if not (0 <= self.retention <= 1 and self.discount_rate >= 0 and self.horizon_years >= 0):
            raise ValueError("retention in [0, 1], discount rate >= 0, horizon >= 0 required")


@dataclass(frozen=True)
class Habits:
    """How a customer buys: the inputs of the future value."""

    orders: int
    average_order_value: Decimal
    orders_per_year: Decimal
    recency_days: Decimal | None

    @property
    def expected_gap_days(self) -> Decimal | None:
        return YEAR_DAYS / self.orders_per_year if self.orders_per_year else None


def habits(history: Purchases, currency: str, as_of: datetime) -> Habits:
    if not history.orders:
        return Habits(0, Decimal(0), Decimal(0), None)
    first, last = history.orders[0].at, history.orders[-1].at
    latest = history.last_purchase_at or last
    active = max(_days(last - first), YEAR_DAYS)
    money = history.revenue_orders(currency)
    aov = sum((o.amount for o in money), Decimal(0)) / len(money) if money else Decimal(0)
    return Habits(
        orders=len(history.orders),
        average_order_value=aov,
        orders_per_year=Decimal(len(history.orders)) * YEAR_DAYS / active,
        recency_days=max(_days(as_of - latest), Decimal(0)),
    )


def _days(delta: Any) -> Decimal:
    return Decimal(delta.total_seconds()) / Decimal(86400)


def retention_rate(model: ValueModel, customer: Habits) -> Decimal:
    """The yearly chance the customer keeps buying: the model's retention, halved with every
    expected purchase gap of silence beyond the first."""
    gap = customer.expected_gap_days
    if gap is None or customer.recency_days is None:
        return Decimal(0)
    overdue = max(Decimal(0), (customer.recency_days - gap) / gap)
    return model.retention * Decimal("0.5") ** overdue


def future_value(model: ValueModel, customer: Habits) -> Decimal:
    r = retention_rate(model, customer)
    yearly = customer.average_order_value * customer.orders_per_year
    growth = Decimal(1) + model.discount_rate
    total = sum((yearly * r**t / growth**t for t in range(1, model.horizon_years + 1)), Decimal(0))
    return total.quantize(CENT)


@dataclass(frozen=True)
class LifetimeValue:
    present: Decimal
    future: Decimal
    habits: Habits
    other_currencies: frozenset[str] = frozenset()

    @property
    def total(self) -> Decimal:
        return self.present + self.future


def lifetime_value(
    history: Purchases, model: ValueModel, currency: str, as_of: datetime
) -> LifetimeValue:
    customer = habits(history, currency, as_of)
    return LifetimeValue(
        history.paid.quantize(CENT),
        future_value(model, customer),
        customer,
        history.other_currencies,
    )


# The share of the customer base above which a customer must rank to reach the tier.
TIER_SHARES = (
    (Tier.PLATINUM, Decimal("0.05")),
    (Tier.GOLD, Decimal("0.20")),
    (Tier.SILVER, Decimal("0.50")),
)


def tiers(values: Mapping[str, Decimal]) -> dict[str, Tier]:
    """Tier by rank in the base: top 5% platinum, next 15% gold, next 30% silver, others bronze.

    A customer's rank is the share of customers worth strictly more, so equal values share a tier.
    """
    ascending = sorted(values.values())
    n = len(ascending)
    result = {}
    for customer, value in values.items():
        above = Decimal(n - bisect_right(ascending, value)) / n
        result[customer] = next((t for t, share in TIER_SHARES if above < share), Tier.BRONZE)
    return result


@dataclass(frozen=True)
class Rfm:
    recency: int
    frequency: int
    monetary: int

    @property
    def segment(self) -> Segment:
        return segment(self.recency, self.frequency, self.monetary)


def quintiles(values: Mapping[str, Decimal]) -> dict[str, int]:
    """Scores 1..5 by position in the base (higher is better): ``1 + floor(5 * share of
    customers worse)``. Ties share a score; one customer alone scores 3, the middle."""
    if len(values) == 1:
        return dict.fromkeys(values, 3)
    ascending = sorted(values.values())
    n = len(ascending)
    return {c: 1 + min(4, 5 * bisect_left(ascending, v) // n) for c, v in values.items()}


# Recency is scored on the calendar, not by rank in the base: a customer who bought minutes ago
# is recent however many others bought seconds later. Days since the latest purchase -> score.
RECENCY_BANDS = ((Decimal(30), 5), (Decimal(90), 4), (Decimal(180), 3), (Decimal(365), 2))


def recency_score(days: Decimal) -> int:
    """5 within 30 days of the latest order or payment, 4 within 90, 3 within 180, 2 within a
    year, 1 beyond."""
    return next((score for limit, score in RECENCY_BANDS if days <= limit), 1)


def rfm_scores(
    recency_days: Mapping[str, Decimal],
    orders: Mapping[str, Decimal],
    monetary: Mapping[str, Decimal],
) -> dict[str, Rfm]:
    """RFM over the customers who bought (the three maps share their keys): recency on the
    calendar (``recency_score``), frequency and monetary value by quintile in the base."""
    r = {customer: recency_score(days) for customer, days in recency_days.items()}
    f = quintiles(orders)
    m = quintiles(monetary)
    return {customer: Rfm(r[customer], f[customer], m[customer]) for customer in recency_days}


def segment(r: int, f: int, m: int) -> Segment:
    """The usual RFM segment names, first matching rule wins."""
    rules = (
        (Segment.CHAMPIONS, r >= 4 and f >= 4 and m >= 4),
        (Segment.LOYAL, r >= 3 and f >= 4),
        (Segment.POTENTIAL_LOYALISTS, r >= 4 and f in (2, 3)),
        (Segment.NEW_CUSTOMERS, r >= 4 and f == 1),
        (Segment.CANNOT_LOSE, r == 1 and f >= 4 and m >= 4),
        (Segment.AT_RISK, r <= 2 and f >= 3),
        (Segment.HIBERNATING, r <= 2 and f <= 2),
    )
    return next((name for name, matches in rules if matches), Segment.NEEDS_ATTENTION)


def ratio(part: int, whole: int) -> str | None:
    """``part / whole`` as a decimal string to four places; None for an empty whole."""
    return str((Decimal(part) / whole).quantize(Decimal("0.0001"))) if whole else None


def capped(event_ids: Any) -> list[str]:
    """A figure's lineage: the newest ``LINEAGE_CAP`` event ids it was computed from."""
    ids = list(event_ids)
    return ids[-LINEAGE_CAP:]
