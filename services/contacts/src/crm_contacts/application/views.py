"""What the application's commands and queries return: plain, immutable data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ..domain import (
    CombinedPerson,
    ConsentDecision,
    Customer,
    Interaction,
    MergeLink,
    Organization,
    OrganizationProfile,
    Origin,
    PersonProfile,
    Sourced,
    combine,
)
from ..domain.custom_fields import Definitions, FieldValue, typed_values


@dataclass(frozen=True)
class CustomerView:
    """A person as shown: combined with the duplicates merged into them (``merges``)."""

    id: UUID
    version: int
    registered_at: datetime
    origin: Origin
    lead_id: UUID | None
    person: CombinedPerson
    merges: tuple[MergeLink, ...]
    custom_fields: Mapping[str, FieldValue]  # the person's, numbers as numbers

    @classmethod
    def of(
        cls, customer: Customer, duplicates: Sequence[Customer], definitions: Definitions
    ) -> CustomerView:
        person = combine(customer, duplicates)
        return cls(
            id=customer.id,
            version=customer.version,
            registered_at=customer.created_on,
            origin=customer.origin,
            lead_id=customer.lead_id,
            person=person,
            merges=tuple(customer.merged_duplicates),
            custom_fields=typed_values(person.custom_fields, definitions),
        )


@dataclass(frozen=True)
class ConsentsView:
    customer_id: UUID
    version: int
    in_force: tuple[Sourced[ConsentDecision], ...]
    history: tuple[Sourced[ConsentDecision], ...]


@dataclass(frozen=True)
class MergeView:
    """A merge, and the survivor's version after the command that answered with it."""

    link: MergeLink
    version: int  # the survivor's

    @classmethod
    def of(cls, survivor: Customer, merge_id: UUID) -> MergeView:
        return cls(survivor.merges[merge_id], survivor.version)


@dataclass(frozen=True)
class Erasure:
    customer_id: UUID
    erased_at: datetime
    erased_records: tuple[UUID, ...]  # the person and the duplicates merged into them
    version: int  # the person's, once erased


@dataclass(frozen=True)
class OrganizationView:
    id: UUID
    version: int
    registered_at: datetime
    profile: OrganizationProfile
    custom_fields: Mapping[str, FieldValue]  # numbers as numbers

    @classmethod
    def of(cls, organization: Organization, definitions: Definitions) -> OrganizationView:
        return cls(
            id=organization.id,
            version=organization.version,
            registered_at=organization.created_on,
            profile=organization.profile,
            custom_fields=typed_values(organization.profile.custom_fields, definitions),
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event of a record, personal data opened (``None`` once erased)."""

    version: int
    type: str
    recorded_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordExport:
    """Everything one record holds about the person."""

    customer_id: UUID
    registered_at: datetime
    origin: Origin
    lead_id: UUID | None
    profile: PersonProfile
    interactions: tuple[Interaction, ...]
    consents: tuple[ConsentDecision, ...]
    merges: tuple[MergeLink, ...]
    history: tuple[HistoryEntry, ...]
    custom_fields: Mapping[str, FieldValue]  # the profile's, numbers as numbers


@dataclass(frozen=True)
class PersonExport:
    """A data subject's access request answered: the person's record and those merged into it."""

    customer_id: UUID
    exported_at: datetime
    status: Literal["active", "erased"]
    erased_at: datetime | None
    records: tuple[RecordExport, ...]
