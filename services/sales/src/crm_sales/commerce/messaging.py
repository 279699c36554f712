"""Reactions of the commerce area to other services' events: none.

Quotes, orders and invoices name customers and accounts by id only and hold no personal data, so
an erased customer leaves nothing here to remove; and what they record (prices, payments) is
decided by sales, not by what other services announce.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker


def subscribe(broker: KafkaBroker, application: Any) -> None:
    return None
