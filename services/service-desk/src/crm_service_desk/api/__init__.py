"""The service-desk HTTP API (FastAPI routers and their request and response models)."""

from .articles import articles_router
from .policies import policies_router
from .tickets import tickets_router

__all__ = ["articles_router", "policies_router", "tickets_router"]
