"""Purchase suggestions: products bought together (co-occurrence and lift over orders' lines).

For products A and B over the N orders of the whole base::

    support(A, B)    = orders containing both
    confidence(A->B) = support(A, B) / orders containing A
    lift(A, B)       = support(A, B) * N / (orders with A * orders with B)

A customer is suggested the products they never bought that go with something they did, when the
pair was bought together at least ``min_support`` times and its lift exceeds 1 (more often together
than chance), best lift first, each with the product that brought it up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class BasketStatistics:
    orders: int
    product_orders: Counter[str]
    pair_orders: Counter[tuple[str, str]]

    def lift(self, a: str, b: str) -> Decimal:
        together = self.pair_orders[_pair(a, b)]
        return Decimal(together * self.orders) / (self.product_orders[a] * self.product_orders[b])

    def confidence(self, a: str, b: str) -> Decimal:
        return Decimal(self.pair_orders[_pair(a, b)]) / self.product_orders[a]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def basket_statistics(baskets: Iterable[Iterable[str]]) -> BasketStatistics:
    """Counts over orders; a product appearing on several lines of one order counts once."""
    products: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    orders = 0
    for basket in baskets:
        items = sorted(set(basket))
        orders += 1
        products.update(items)
        pairs.update(combinations(items, 2))
    return BasketStatistics(orders, products, pairs)


@dataclass(frozen=True)
class Suggestion:
    product_id: str
    because_of: str
    support: int
    confidence: Decimal
    lift: Decimal


def suggestions(
    stats: BasketStatistics, bought: Iterable[str], *, min_support: int = 2, limit: int = 10
) -> list[Suggestion]:
    owned = set(bought)
    best: dict[str, Suggestion] = {}
    for (a, b), together in stats.pair_orders.items():
        if together < min_support:
            continue
        for have, other in ((a, b), (b, a)):
            if have not in owned or other in owned:
                continue
            lift = stats.lift(have, other)
            current = best.get(other)
            if lift > 1 and (current is None or (lift, have) > (current.lift, current.because_of)):
                best[other] = Suggestion(
                    other,
                    have,
                    together,
                    stats.confidence(have, other).quantize(PLACES),
                    lift.quantize(PLACES),
                )
    ranked = sorted(best.values(), key=lambda s: (-s.lift, -s.support, s.product_id))
    return ranked[:limit]
