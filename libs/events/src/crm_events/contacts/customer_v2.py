"""Customer (person) events, topic ``crm.contacts.customer.v2``.

Version 2 replaces ``crm.contacts.customer.v1``: a person's personal data travels sealed with the
person's own key (``Sealed.kid`` is the customer id). Open it with a keyring fed by
``crm.privacy.personal-data-key.v1``; once ``CustomerErased`` arrives (with
``PersonalDataKeyDestroyed`` on the key topic) nothing opens any more: delete every copy kept.

Sealed values open to JSON:

- ``given_name`` (absent when unknown), ``family_name``: strings.
- ``emails``: ``[{"address": str, "type": "work|home|other", "primary": bool}]`` (lower-case
  addresses; exactly one primary when not empty). ``phones``: ``[{"number": str (E.164),
  "type": "work|home|mobile|fax|other", "primary": bool}]``. ``addresses``: ``[{"lines": [str],
  "locality": str, "region": str|null, "postal_code": str|null, "country": ISO 3166-1 alpha-2,
  "type": "work|home|billing|shipping|other", "primary": bool}]``.
- ``roles``: ``[{"organization_id": uuid, "title": str|null, "department": str|null,
  "start": date|null, "end": date|null}]``.
- ``family_members``: ``[{"name": str, "relation": "spouse|partner|child|parent|sibling|
  grandparent|grandchild|other", "birthday": {"month", "day", "year"|null}|null}]``.
- ``important_dates``: ``[{"kind": "birthday|anniversary|custom", "label": str|null,
  "date": {"month": int, "day": int, "year": int|null}}]``.
- ``preferences``: ``{"language": BCP 47|null, "preferred_channel": ContactChannel|null,
  "contact_hours": {"days": ["mon".."sun"], "start": "HH:MM", "end": "HH:MM",
  "time_zone": IANA}|null, "other": {str: str}}``.
- ``tags``: ``[str]`` (lower-case). ``custom_fields``: ``{name: str | bool}`` (numbers as decimal
  strings, dates as ``YYYY-MM-DD``).
- ``CustomerProfileUpdated.changes``: an object holding the new value of each field it names in
  ``changed``, shaped as above.
- ``subject``, ``summary``, ``evidence``: strings.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import EventData
from ..personal import Sealed
from ..registry import event
from .customer import InteractionChannel, InteractionDirection


class _CustomerEvent(EventData):
    source_service = "contacts"
    aggregate_type = "customer"
    schema_version = 2

    customer_id: UUID


class RegistrationOrigin(StrEnum):
    API = "api"
    LEAD = "lead"
    IMPORT = "import"


class ContactChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    POST = "post"
    MESSAGING = "messaging"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"
    PROFILING = "profiling"
    RESEARCH = "research"
    THIRD_PARTY_SHARING = "third_party_sharing"


class ConsentSource(StrEnum):
    WEB_FORM = "web_form"
    CALL = "call"
    EMAIL = "email"
    IN_PERSON = "in_person"
    PAPER_FORM = "paper_form"
    IMPORT = "import"
    API = "api"
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # added: a marketing message's unsubscribe link


class RecordReference(BaseModel):
    """A record in any service that an interaction is about."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str = Field(description="Kind of record: opportunity, ticket, quote, campaign...")
    id: str = Field(description="The record's id in its service.")


@event
class CustomerRegisteredV2(_CustomerEvent):
    """A person became known to the business; every profile field sealed with their key."""

    event_type = "CustomerRegistered"

    given_name: Sealed | None = None
    family_name: Sealed
    emails: Sealed | None = None
    phones: Sealed | None = None
    addresses: Sealed | None = None
    roles: Sealed | None = Field(default=None, description="Positions at organizations.")
    family_members: Sealed | None = None
    important_dates: Sealed | None = None
    preferences: Sealed | None = None
    tags: Sealed | None = None
    custom_fields: Sealed | None = None
    origin: RegistrationOrigin = Field(description="Registered directly, from a lead, imported.")
    lead_id: UUID | None = Field(default=None, description="The lead converted into this person.")
    registered_at: AwareDatetime


@event
class CustomerProfileUpdated(_CustomerEvent):
    """Fields of the person's profile changed; ``changes`` holds their new values, sealed."""

    event_type = "CustomerProfileUpdated"

    changed: list[str] = Field(description="The fields changed, named as in CustomerRegistered.")
    changes: Sealed = Field(description="Sealed object: field -> new value.")
    updated_at: AwareDatetime


@event
class CustomerContactedV2(_CustomerEvent):
    """The business and the person interacted on some channel, in some direction."""

    event_type = "CustomerContacted"

    interaction_id: UUID
    channel: InteractionChannel
    direction: InteractionDirection
    subject: Sealed | None = None
    summary: Sealed
    actor: str = Field(description="Who handled the interaction for the business.")
    related_to: RecordReference | None = None
    occurred_at: AwareDatetime


class _ConsentDecided(_CustomerEvent):
    decision_id: UUID
    channel: ContactChannel
    purpose: ConsentPurpose
    source: ConsentSource = Field(description="How the decision reached the business.")
    evidence: Sealed | None = Field(default=None, description="Sealed proof, e.g. the form text.")
    decided_at: AwareDatetime = Field(
        description="When the person decided. Decisions may arrive late: for a channel and"
        " purpose, the one decided last is in force."
    )


@event
class ConsentGranted(_ConsentDecided):
    """The person agreed to be contacted on ``channel`` for ``purpose``."""

    event_type = "ConsentGranted"


@event
class ConsentWithdrawn(_ConsentDecided):
    """The person refused (or no longer agrees) to be contacted on ``channel`` for ``purpose``."""

    event_type = "ConsentWithdrawn"


class _MergeEvent(_CustomerEvent):
    merge_id: UUID
    survivor_id: UUID
    duplicate_id: UUID


@event
class ContactsMerged(_MergeEvent):
    """A duplicate was merged into a survivor; published on both (``customer_id`` tells which).

    Nothing is copied: the survivor answers for both, each keeps its own data. Show the
    duplicate's data under the survivor until a ``ContactsUnmerged`` with this ``merge_id``.
    """

    event_type = "ContactsMerged"

    merged_at: AwareDatetime


@event
class ContactsUnmerged(_MergeEvent):
    """The merge ``merge_id`` was undone: both records stand on their own again."""

    event_type = "ContactsUnmerged"

    unmerged_at: AwareDatetime


@event
class CustomerErased(_CustomerEvent):
    """The person's key was destroyed (crypto-shredding): delete every copy of their data."""

    event_type = "CustomerErased"

    erased_at: AwareDatetime
