"""The marketing service's event-sourced application (its own PostgreSQL database: marketing)."""

from eventsourcing.application import Application


class MarketingApplication(Application):
    """Holds no aggregates yet: the marketing capability is built on this store in its own issue."""
