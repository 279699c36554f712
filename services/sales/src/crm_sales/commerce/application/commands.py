"""Sales commands and queries: commerce (catalog, price lists, quotes, orders, billing).

The commands live in one module per part (commerce_catalog, commerce_quotes, commerce_billing);
this mixin joins them, opens the commerce read model, and teaches the application's transcoder
the commerce value objects that domain events carry (money, lines, totals, terms...).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from eventsourcing.persistence import JSONTranscoder, Transcoding

from ..domain.billing import InvoiceSeries, Payment
from ..domain.catalog import Price, PriceTier
from ..domain.money import Money
from ..domain.pricing import Discount, Line, TaxLine, Totals
from ..domain.quotes import Terms
from .billing import BillingCommands
from .catalog import CatalogCommands
from .quotes import QuoteCommands

# Stored events name these types by the transcoding names below: renaming a class is fine, but a
# name, once used, is forever (or needs an upcaster).
VALUE_OBJECTS: dict[str, type] = {
    "commerce.Money": Money,
    "commerce.Discount": Discount,
    "commerce.Line": Line,
    "commerce.TaxLine": TaxLine,
    "commerce.Totals": Totals,
    "commerce.Terms": Terms,
    "commerce.PriceTier": PriceTier,
    "commerce.Price": Price,
    "commerce.Payment": Payment,
}
# An invoice series gains an event per invoice; a snapshot every so often keeps loading it quick.
SERIES_SNAPSHOT_INTERVAL = 100


class ValueObjectAsDict(Transcoding):
    """A frozen dataclass as the dict of its fields (their values transcoded in turn)."""

    def __init__(self, name: str, kind: type) -> None:
        self.name = name
        self.type = kind
        self._fields = [field.name for field in dataclasses.fields(kind)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        # JSON has no tuples: the value objects' sequences are tuples, and come back as lists.
        return self.type(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class CommerceCommands(CatalogCommands, QuoteCommands, BillingCommands):
    """Mixed into SalesApplication, before eventsourcing's Application in its bases."""

    snapshotting_intervals: ClassVar[dict[type, int]] = {InvoiceSeries: SERIES_SNAPSHOT_INTERVAL}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)  # dates: the sales store registers them
        for name, kind in VALUE_OBJECTS.items():
            transcoder.register(ValueObjectAsDict(name, kind))
