"""Sales converted a lead: the person (and their organization) become known to contacts.

The ids come from sales' event, so a conversion seen again registers nothing new; the position of
the event is recorded in the same transaction as the registration (exactly once per position).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from ..domain import (
    Customer,
    EmailAddress,
    EmailType,
    Organization,
    OrganizationKind,
    Origin,
    PhoneNumber,
    PhoneType,
    RuleViolation,
)
from .organizations import OrganizationCommands
from .people import PeopleCommands

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConvertedLead:
    """What a ``LeadConverted`` event says, its personal data opened."""

    lead_id: UUID
    customer_id: UUID
    organization_id: UUID | None
    given_name: str | None
    family_name: str
    email: str | None
    phone: str | None
    company: str | None
    title: str | None


class LeadConversions(PeopleCommands, OrganizationCommands):
    """Idempotent by the ids sales chose (a person registered already is left as they are) and
    exactly once per position (tracking records): no command receipt is needed."""

    def register_converted_lead(self, position: Tracking, lead: ConvertedLead) -> bool:
        """Register the person, and the organization when it is new and named; False when
        ``position`` was processed already. A person registered before is left as they are."""
        if self.find(Customer, lead.customer_id) is not None:
            return self.record_reaction(position)
        new_organizations: list[Organization] = []
        organization = lead.organization_id
        if organization is not None and self.find(Organization, organization) is None:
            if lead.company:
                profile = {"name": lead.company, "kinds": [OrganizationKind.CUSTOMER]}
                new_organizations.append(self.new_organization(organization, profile=profile))
            else:
                organization = None  # unknown, and nothing to register it by
        person = {
            "given_name": lead.given_name,
            "family_name": lead.family_name,
            "emails": _usable(EmailAddress.parse, "address", lead.email, EmailType.WORK),
            "phones": _usable(PhoneNumber.parse, "number", lead.phone, PhoneType.WORK),
            "roles": [{"organization_id": str(organization), "title": lead.title}]
            if organization
            else [],
        }
        customer = self.new_customer(
            lead.customer_id,
            profile=person,
            origin=Origin.LEAD,
            lead_id=lead.lead_id,
            registered_with={o.id for o in new_organizations},
        )
        return self.record_reaction(position, *new_organizations, customer)


def _usable(
    parse: Callable[[Mapping[str, Any]], Any], name: str, value: str | None, kind: str
) -> list[dict[str, Any]]:
    """A lead's contact point as a list of one; none when absent or unusable: sales keeps leads'
    details loosely, and a number contacts cannot use must not keep the person out."""
    if value is None:
        return []
    raw = {name: value, "type": kind}
    try:
        parse(raw)
    except RuleViolation as violation:
        log.warning("contact point of a converted lead left out: %s", violation)
        return []
    return [raw]
