"""The Organization aggregate: kinds, partners (PRM), suppliers (SRM), details, hierarchy."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_contacts.domain import (
    Organization,
    OrganizationKind,
    PartnerType,
    RuleViolation,
)

pytestmark = pytest.mark.unit


def register(**profile: Any) -> Organization:
    details = {"name": "Analytical Engines Ltd", "kinds": ["customer"], **profile}
    return Organization.register(uuid4(), profile=details, definitions={})


def update(
    organization: Organization,
    patch: dict[str, Any],
    ancestors: dict[UUID, list[UUID]] | None = None,
) -> list[str]:
    return organization.update_profile(
        patch=patch,
        definitions={},
        ancestors=lambda parent: (ancestors or {}).get(parent, [parent]),
    )


def test_details_are_normalized() -> None:
    organization = register(
        name="  Analytical Engines Ltd ",
        tax_id="gb 123.456-789",
        website="Example.COM/about",
        kinds=["supplier", "customer", "supplier"],
        addresses=[
            {"lines": ["1 Main St"], "locality": "Leeds", "country": "gb", "type": "billing"}
        ],
    )

    profile = organization.profile
    assert (profile.name, profile.tax_id, profile.website) == (
        "Analytical Engines Ltd",
        "GB123456789",
        "https://example.com/about",
    )
    assert profile.kinds == (OrganizationKind.CUSTOMER, OrganizationKind.SUPPLIER)
    assert profile.addresses[0].primary


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"name": " "}, "name"),
        ({"kinds": []}, "kinds"),
        ({"kinds": ["competitor"]}, "kinds.0"),
        ({"kinds": ["partner"]}, "partner_type"),
        ({"partner_type": "reseller"}, "partner_type"),
        ({"kinds": ["partner"], "partner_type": "franchise"}, "partner_type"),
        ({"tax_id": "12"}, "tax_id"),
        ({"website": "ftp://example.com"}, "website"),
        ({"website": "https://localhost"}, "website"),
        ({"parent_id": "nope"}, "parent_id"),
        ({"legal_name": 12}, "legal_name"),
    ],
)
def test_details_breaking_a_rule_name_the_field(profile: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleViolation) as raised:
        register(**profile)
    assert raised.value.field == field


def test_an_organization_is_not_its_own_parent_nor_ancestor() -> None:
    organization = register()
    child = uuid4()

    with pytest.raises(RuleViolation, match="ancestor"):
        update(
            organization, {"parent_id": str(organization.id)}, {organization.id: [organization.id]}
        )
    with pytest.raises(RuleViolation, match="ancestor"):
        update(organization, {"parent_id": str(child)}, {child: [child, organization.id]})
    assert update(organization, {"parent_id": str(child)}) == ["parent_id"]
    assert organization.profile.parent_id == child


def test_becoming_a_partner_is_flagged_on_the_change_that_made_it_one() -> None:
    organization = register()
    organization.collect_events()

    update(organization, {"kinds": ["customer", "partner"], "partner_type": "distributor"})
    update(organization, {"partner_type": "reseller"})
    update(organization, {"kinds": ["customer"], "partner_type": None})

    flags = [(e.changed, e.became_partner) for e in organization.collect_events()]
    assert flags == [
        (["kinds", "partner_type"], True),
        (["partner_type"], False),
        (["kinds", "partner_type"], False),
    ]
    assert organization.profile.partner_type is None


def test_registered_as_a_partner() -> None:
    organization = register(kinds=["partner"], partner_type="reseller")

    assert organization.profile.is_partner
    assert organization.profile.partner_type is PartnerType.RESELLER


def test_an_update_changing_nothing_records_nothing() -> None:
    organization = register(industry="Computing")
    organization.collect_events()

    assert update(organization, {"industry": "Computing", "kinds": ["customer"]}) == []
    assert organization.collect_events() == []
