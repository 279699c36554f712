"""The marketing HTTP API: staff endpoints (bearer tokens) and public ones (signed links, forms)."""

from .audience import profiles_router
from .campaigns import campaigns_router
from .public import public_router
from .segments import segments_router

__all__ = [
    "campaigns_router",
    "profiles_router",
    "public_router",
    "segments_router",
]
