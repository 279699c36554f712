"""A directory row: a record as it is listed and searched, made from its aggregate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from crm_platform.text import fold

from ...domain.codec import to_json
from ...domain.customer import Customer
from ...domain.duplicates import DuplicateScore, PersonFingerprint, blocking_keys
from ...domain.merging import combine
from ...domain.organization import Organization


class RecordType(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"


@dataclass(frozen=True)
class DirectoryEntry:
    """One row: the searchable columns, and ``document`` (the record's details as JSON)."""

    id: UUID
    record_type: RecordType
    version: int
    display_name: str
    sort_name: str
    created_at: datetime
    updated_at: datetime
    document: Mapping[str, Any]
    kinds: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    organization_ids: tuple[UUID, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> PersonFingerprint:
        return PersonFingerprint(
            self.document.get("given_name"),
            self.document.get("family_name"),
            frozenset(self.emails),
            frozenset(self.phones),
        )

    @property
    def search_text(self) -> str:
        """Folded names, e-mails and phone digits: what a text query matches as a substring."""
        words = [self.display_name, *self.emails, *(p.lstrip("+") for p in self.phones)]
        return fold(" ".join(words))

    @property
    def blocking_keys(self) -> frozenset[str]:
        if self.record_type is not RecordType.PERSON:
            return frozenset()
        return blocking_keys(self.fingerprint)


def person_entry(customer: Customer, duplicates: Sequence[Customer]) -> DirectoryEntry:
    """A person as shown: with what the duplicates merged into them add (``merging.combine``)."""
    person = combine(customer, duplicates)
    document = {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "emails": to_json([s.item for s in person.emails]),
        "phones": to_json([s.item for s in person.phones]),
        "addresses": to_json([s.item for s in person.addresses]),
        "roles": to_json([s.item for s in person.roles]),
        "important_dates": to_json([s.item for s in person.important_dates]),
        "preferences": to_json(person.preferences),
        "tags": list(person.tags),
        "custom_fields": to_json(person.custom_fields),
        "merged_ids": [str(d.id) for d in duplicates],
    }
    display = f"{person.given_name or ''} {person.family_name or ''}".strip()
    return DirectoryEntry(
        id=customer.id,
        record_type=RecordType.PERSON,
        version=customer.version,
        display_name=display,
        sort_name=fold(f"{person.family_name or ''} {person.given_name or ''}"),
        created_at=customer.created_on,
        updated_at=max(r.modified_on for r in (customer, *duplicates)),
        document=document,
        emails=tuple(s.item.address for s in person.emails),
        phones=tuple(s.item.number for s in person.phones),
        countries=tuple(dict.fromkeys(s.item.country for s in person.addresses)),
        tags=person.tags,
        organization_ids=tuple(dict.fromkeys(s.item.organization_id for s in person.roles)),
        custom_fields=to_json(person.custom_fields),
    )


def organization_entry(organization: Organization) -> DirectoryEntry:
    profile = organization.profile
    return DirectoryEntry(
        id=organization.id,
        record_type=RecordType.ORGANIZATION,
        version=organization.version,
        display_name=profile.name,
        sort_name=fold(profile.name),
        created_at=organization.created_on,
        updated_at=organization.modified_on,
        document=to_json(profile),
        kinds=tuple(kind.value for kind in profile.kinds),
        countries=tuple(dict.fromkeys(address.country for address in profile.addresses)),
        tags=profile.tags,
        custom_fields=to_json(profile.custom_fields),
    )


def reasons_json(result: DuplicateScore) -> list[dict[str, Any]]:
    return [
        {
            "field": reason.field.value,
            "match": "exact" if reason.similarity == 1.0 else "similar",
            "similarity": reason.similarity,
            "values": list(reason.values),
        }
        for reason in result.reasons
    ]
