"""The service-desk HTTP API (FastAPI routers and their request and response models)."""

from .articles import articles_router
from .tickets import tickets_router

__all__ = ["articles_router", "tickets_router"]
