"""The topics events were stored under before the sales areas became packages (slices).

eventsourcing stores each event with its class's topic (``crm_sales.domain.leads:Lead.Captured``)
and resolves it when the event is read: a class that moved must still answer to its old topic,
forever. Each moved class is registered here under its old module (its events, nested in it,
resolve through it), and projections that pick events by topic read the old prefixes too.
Receipts of commands are the platform's now (``crm_platform.commands``).
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from crm_platform.commands import CommandReceipt
from crm_platform.known_customers import KnownCustomer
from crm_platform.projection import topics_of

from .activities.domain.activities import Activity
from .commerce.domain.billing import Invoice, InvoiceSeries
from .commerce.domain.catalog import PriceList, Product, SkuRegistration
from .commerce.domain.orders import Order
from .commerce.domain.quotes import Quote
from .pipeline.domain.leads import Lead
from .pipeline.domain.opportunities import Opportunity
from .pipeline.domain.pipelines import Pipeline
from .pipeline.domain.scoring import ScoringRules

# The module each class was stored from, before it moved. Never remove an entry.
MOVED: dict[str, tuple[type, ...]] = {
    "crm_sales.domain.leads": (Lead,),
    "crm_sales.domain.opportunities": (Opportunity,),
    "crm_sales.domain.pipeline": (Pipeline,),
    "crm_sales.domain.scoring": (ScoringRules,),
    "crm_sales.domain.catalog": (Product, SkuRegistration, PriceList),
    "crm_sales.domain.quotes": (Quote,),
    "crm_sales.domain.orders": (Order,),
    "crm_sales.domain.billing": (InvoiceSeries, Invoice),
    "crm_sales.domain.activities": (Activity,),
    "crm_sales.domain.pipeline_receipts": (CommandReceipt,),
    "crm_sales.pipeline.domain.known_customers": (KnownCustomer,),
}


def old_topic(module: str, cls: type) -> str:
    return f"{module}:{cls.__qualname__}"


def register_moved_topics() -> None:
    """Resolve every old topic (and those of its nested events) to the class as it is now."""
    for module, classes in MOVED.items():
        for cls in classes:
            register_topic(old_topic(module, cls), cls)


def stored_topics_of(*aggregates: type) -> tuple[str, ...]:
    """The topic prefixes the events of ``aggregates`` are stored under, old and new."""
    old = (
        f"{old_topic(module, cls)}."
        for module, classes in MOVED.items()
        for cls in classes
        if cls in aggregates
    )
    return (*topics_of(*aggregates), *old)
