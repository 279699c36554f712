"""The marketing HTTP API: staff endpoints (bearer tokens) and public ones (signed links, forms)."""

from .public import RateLimiter, public_router
from .routes import campaigns_router, profiles_router, segments_router

__all__ = [
    "RateLimiter",
    "campaigns_router",
    "profiles_router",
    "public_router",
    "segments_router",
]
