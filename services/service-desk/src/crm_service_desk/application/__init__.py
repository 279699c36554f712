"""The service-desk service's event-sourced application (its own PostgreSQL database: service_desk)."""

from eventsourcing.application import Application


class ServiceDeskApplication(Application):
    """Holds no aggregates yet: the service-desk capability is built on this store in its own issue."""
