"""Events published by the sales service."""

from . import activities, commerce, leads, opportunities

__all__ = ["activities", "commerce", "leads", "opportunities"]
