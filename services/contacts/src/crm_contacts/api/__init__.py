"""The contacts HTTP API (FastAPI routers and their request and response models)."""

from .routes import customers_router

__all__ = ["customers_router"]
