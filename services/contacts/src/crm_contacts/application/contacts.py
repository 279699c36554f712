"""The contacts application: one event store for people, organizations and custom fields."""

from __future__ import annotations

from .leads import LeadConversions
from .marketing_consent import MarketingConsent


class ContactsApplication(LeadConversions, MarketingConsent):
    """Commands are grouped by area in mixins (people, organizations, custom fields, lead
    conversions, consent withdrawn in marketing, erasure tracking), each in its own module; they
    run on the platform's command pipeline (``crm_platform.commands.CommandRunner``).

    Personal data is sealed per person (``ShreddingApplication``); reactions to other services'
    events record their Kafka position with their effects (``TrackingApplication``). Snapshots
    must stay off (``IS_SNAPSHOTTING_ENABLED``): a snapshot would store an aggregate's plaintext.
    """

    name = "contacts"
