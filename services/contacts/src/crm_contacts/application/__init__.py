"""The contacts application service (eventsourcing ``Application``)."""

from .contacts import ContactsApplication
from .custom_fields import DefinedField
from .leads import ConvertedLead
from .marketing_consent import Feedback, Withdrawal
from .views import (
    ConsentsView,
    CustomerView,
    Erasure,
    HistoryEntry,
    MergeView,
    OrganizationView,
    PersonExport,
    RecordExport,
)

__all__ = [
    "ConsentsView",
    "ContactsApplication",
    "ConvertedLead",
    "CustomerView",
    "DefinedField",
    "Erasure",
    "Feedback",
    "HistoryEntry",
    "MergeView",
    "OrganizationView",
    "PersonExport",
    "RecordExport",
    "Withdrawal",
]
