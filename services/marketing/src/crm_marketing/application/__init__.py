"""The marketing service's event-sourced application (its own PostgreSQL database: marketing).

One eventsourcing Application holds every marketing aggregate; its commands are grouped by area
in mixins (segments, campaigns, engagement, audience learning), each in its own module. It
records tracking positions with its events (exactly-once reactions) and seals personal data
with a key per person (crypto-shredding). Its local read models (the audience index, the mail
queue, the automated sends due) are tables of the same database, kept by the platform's local
projections.
"""

from __future__ import annotations

from crm_platform.privacy import ShreddingApplication

from .audience import AudienceLearning


class MarketingApplication(AudienceLearning, ShreddingApplication):
    name = "marketing"


__all__ = ["MarketingApplication"]
