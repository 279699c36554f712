"""The Organization aggregate: a company or institution the business deals with.

One organization may be several kinds at once (a customer account that is also a supplier, as
Odoo's partners are); becoming a partner (PRM: distributors and resellers) is published as an
event of its own.
Organizations are legal entities, not data subjects: nothing here is sealed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds

from .contact_points import PostalAddress
from .custom_fields import CustomValue, Definitions
from .errors import RuleViolation
from .sections import Sections, choice, choices, custom_fields, optional, points, tags, text
from .values import NAME_MAX_LENGTH

_TAX_ID_SEPARATORS = re.compile(r"[\s.\-/]")
_TAX_ID = re.compile(r"[A-Z0-9]{4,30}")
_HOST = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}")


class OrganizationKind(StrEnum):
    CUSTOMER = "customer"  # an account the business sells to
    PARTNER = "partner"  # sells with or for the business (PRM)
    SUPPLIER = "supplier"  # sells to the business (SRM)


class PartnerType(StrEnum):
    DISTRIBUTOR = "distributor"
    RESELLER = "reseller"


@dataclass(frozen=True)
class OrganizationProfile:
    name: str
    legal_name: str | None = None
    tax_id: str | None = None
    industry: str | None = None
    website: str | None = None
    addresses: tuple[PostalAddress, ...] = ()
    parent_id: UUID | None = None
    kinds: tuple[OrganizationKind, ...] = ()
    partner_type: PartnerType | None = None
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, CustomValue] = field(default_factory=dict)

    @property
    def is_partner(self) -> bool:
        return OrganizationKind.PARTNER in self.kinds


def _tax_id(field: str, raw: Any, _: Definitions) -> str | None:
    """VAT or other tax number, as tax authorities print it: ``de 123.456.789`` -> ``DE123456789``."""
    text_value = optional(40)(field, raw, _)
    if text_value is None:
        return None
    compact = _TAX_ID_SEPARATORS.sub("", text_value).upper()
    if not _TAX_ID.fullmatch(compact):
        raise RuleViolation(field, "must be 4 to 30 letters and digits")
    return compact


def _website(field: str, raw: Any, _: Definitions) -> str | None:
    """An http(s) URL with a host name; ``example.com`` is read as ``https://example.com``."""
    value = optional(500)(field, raw, _)
    if value is None:
        return None
    url = urlsplit(value if "://" in value else f"https://{value}")
    host = (url.hostname or "").lower()
    if url.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(host):
        raise RuleViolation(field, "must be a web address, such as https://example.com")
    return url._replace(scheme=url.scheme.lower(), netloc=url.netloc.lower()).geturl()


def _parent(field: str, raw: Any, _: Definitions) -> UUID | None:
    if raw is None:
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        raise RuleViolation(field, "must be an organization id") from None


def _kinds(field: str, raw: Any, definitions: Definitions) -> tuple[OrganizationKind, ...]:
    kinds = choices(OrganizationKind)(field, raw, definitions)
    if not kinds:
        raise RuleViolation(field, "name at least one kind: customer, partner, supplier")
    return kinds  # type: ignore[no-any-return]


def _partner_rule(profile: OrganizationProfile) -> None:
    if profile.is_partner and profile.partner_type is None:
        raise RuleViolation("partner_type", "a partner is a distributor or a reseller")
    if not profile.is_partner and profile.partner_type is not None:
        raise RuleViolation("partner_type", "only partners have a partner type")


ORGANIZATION = Sections(
    profile=OrganizationProfile,
    parsers={
        "name": text(NAME_MAX_LENGTH),
        "legal_name": optional(NAME_MAX_LENGTH),
        "tax_id": _tax_id,
        "industry": optional(NAME_MAX_LENGTH),
        "website": _website,
        "addresses": points(PostalAddress.parse),
        "parent_id": _parent,
        "kinds": _kinds,
        "partner_type": choice(PartnerType),
        "tags": tags,
        "custom_fields": custom_fields,
    },
    required=("name", "kinds"),
    record="organization",
    check=_partner_rule,
)


class Organization(Aggregate):
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        """Events of version 1 carried the request's fingerprint and command id."""

    @classmethod
    def register(
        cls,
        organization_id: UUID,
        *,
        profile: Mapping[str, Any],
        definitions: Definitions,
    ) -> Organization:
        sections = ORGANIZATION.initial(profile, definitions)
        if sections["parent_id"] == str(organization_id):
            raise RuleViolation("parent_id", "an organization is not its own parent")
        organization: Organization = cls(id=organization_id, **sections)
        return organization

    @event("Registered")
    def __init__(
        self,
        name: str,
        legal_name: str | None,
        tax_id: str | None,
        industry: str | None,
        website: str | None,
        addresses: list[Any],
        parent_id: str | None,
        kinds: list[str],
        partner_type: str | None,
        tags: list[str],
        custom_fields: dict[str, Any],
    ) -> None:
        self.profile = ORGANIZATION.apply(
            OrganizationProfile(name=name),
            {
                "legal_name": legal_name,
                "tax_id": tax_id,
                "industry": industry,
                "website": website,
                "addresses": addresses,
                "parent_id": parent_id,
                "kinds": kinds,
                "partner_type": partner_type,
                "tags": tags,
                "custom_fields": custom_fields,
            },
        )

    def update_profile(
        self,
        *,
        patch: Mapping[str, Any],
        definitions: Definitions,
        ancestors: Callable[[UUID], list[UUID]],
    ) -> list[str]:
        """Apply a JSON Merge Patch; the sections that changed (none: no event).

        ``ancestors(parent)`` lists a new parent and its ancestors, to refuse a cycle.
        """
        was_partner = self.profile.is_partner
        changes = ORGANIZATION.changes(self.profile, patch, definitions)
        if changes.get("parent_id") is not None:
            parent = UUID(changes["parent_id"])
            if self.id in ancestors(parent):
                raise RuleViolation("parent_id", "would make the organization its own ancestor")
        if changes:
            self._profile_updated(
                changed=sorted(changes),
                changes=changes,
                became_partner=not was_partner and "partner" in changes.get("kinds", ()),
            )
        return sorted(changes)

    @event("ProfileUpdated")
    def _profile_updated(
        self, changed: list[str], changes: dict[str, Any], became_partner: bool
    ) -> None:
        """``became_partner``: the change made it a partner (published as PartnerRegistered)."""
        self.profile = ORGANIZATION.apply(self.profile, changes)
