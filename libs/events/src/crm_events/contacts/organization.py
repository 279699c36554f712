"""Organization events, topic ``crm.contacts.organization.v1``.

Organizations are legal entities, not data subjects: their details travel in plain text. An
organization may be several kinds at once: a customer, a partner (PRM: distributor or
reseller) and a supplier (SRM).
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import EventData
from ..registry import event

CustomFieldValue = str | bool


class OrganizationKind(StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"
    SUPPLIER = "supplier"


class PartnerType(StrEnum):
    DISTRIBUTOR = "distributor"
    RESELLER = "reseller"


class AddressType(StrEnum):
    WORK = "work"
    HOME = "home"
    BILLING = "billing"
    SHIPPING = "shipping"
    OTHER = "other"


class PostalAddress(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lines: list[str] = Field(description="Street address lines.")
    locality: str = Field(description="City or town.")
    region: str | None = None
    postal_code: str | None = None
    country: str = Field(description="ISO 3166-1 alpha-2 code.")
    type: AddressType
    primary: bool = Field(description="Exactly one address of a list is primary.")


class _OrganizationEvent(EventData):
    source_service = "contacts"
    aggregate_type = "organization"
    schema_version = 1

    organization_id: UUID


class _OrganizationDetails(_OrganizationEvent):
    name: str | None = None
    legal_name: str | None = None
    tax_id: str | None = Field(default=None, description="VAT or tax number, upper-case, compact.")
    industry: str | None = None
    website: str | None = Field(default=None, description="An http(s) URL.")
    addresses: list[PostalAddress] | None = None
    parent_id: UUID | None = Field(default=None, description="The parent organization.")
    kinds: list[OrganizationKind] | None = None
    partner_type: PartnerType | None = Field(default=None, description="Set for partners only.")
    tags: list[str] | None = None
    custom_fields: dict[str, CustomFieldValue] | None = Field(
        default=None, description="Numbers as decimal strings, dates as YYYY-MM-DD."
    )


@event
class OrganizationRegistered(_OrganizationDetails):
    """An organization became known to the business (a customer, a partner, a supplier)."""

    event_type = "OrganizationRegistered"

    name: str = Field(min_length=1, max_length=200)
    addresses: list[PostalAddress] = Field(default_factory=list)
    kinds: list[OrganizationKind] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, CustomFieldValue] = Field(default_factory=dict)
    registered_at: AwareDatetime


@event
class OrganizationProfileUpdated(_OrganizationDetails):
    """Details of the organization changed; ``changed`` names them (a named field that is null
    was cleared), the others keep their values."""

    event_type = "OrganizationProfileUpdated"

    changed: list[str] = Field(description="Names of the fields this update set.")
    updated_at: AwareDatetime


@event
class PartnerRegistered(_OrganizationEvent):
    """The organization became a partner (PRM): published right after the event that made it one,
    at the same aggregate version (a part of the same change) under an id of its own."""

    event_type = "PartnerRegistered"

    partner_type: PartnerType
    registered_at: AwareDatetime
