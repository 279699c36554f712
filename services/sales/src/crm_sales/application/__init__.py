"""The sales service's event-sourced application (its own PostgreSQL database: sales)."""

from eventsourcing.application import Application


class SalesApplication(Application):
    """Holds no aggregates yet: the sales capability is built on this store in its own issue."""
