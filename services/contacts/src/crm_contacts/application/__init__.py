"""The contacts application service (eventsourcing ``Application``)."""

from .contacts import ContactsApplication
from .views import CustomerView, Outcome

__all__ = ["ContactsApplication", "CustomerView", "Outcome"]
