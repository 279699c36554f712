"""HTTP routes of the commerce area: catalog, price lists, quotes, orders, invoices, receivables."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .billing import invoices_router, receivables_router
from .catalog import price_lists_router, products_router
from .quotes import orders_router, quotes_router


def routers(application: Any) -> list[APIRouter]:
    return [
        products_router(application),
        price_lists_router(application),
        quotes_router(application),
        orders_router(application),
        invoices_router(application),
        receivables_router(application),
    ]
