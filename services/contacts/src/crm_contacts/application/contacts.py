"""The contacts application: one event store for people, organizations and custom fields."""

from __future__ import annotations

from .custom_fields import CustomFieldCommands
from .erasure import ErasureTracking
from .leads import LeadConversions


class ContactsApplication(LeadConversions, CustomFieldCommands, ErasureTracking):
    """Commands are grouped by area in mixins (people, organizations, custom fields, lead
    conversions, erasure tracking), each in its own module; they share ``commands.CommandRunner``.

    Personal data is sealed per person (``ShreddingApplication``); reactions to other services'
    events record their Kafka position with their effects (``TrackingApplication``). Snapshots
    must stay off (``IS_SNAPSHOTTING_ENABLED``): a snapshot would store an aggregate's plaintext.
    """

    name = "contacts"
