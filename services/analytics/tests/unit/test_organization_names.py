"""Sales events name the buying organization ``organization_id`` since issue 12; those published
before carry ``account_id`` only. Analytics reads ``organization_id`` and finds the organization
in both (the contracts fill it from ``account_id``)."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from crm_analytics.read_models import organization_360
from crm_analytics.read_models.customer_360 import link_of, organization_named
from crm_events import Event, registry
from crm_events.catalog import PACKAGE_ROOT

pytestmark = pytest.mark.unit


def published(name: str, *, drop: str, organization: str) -> Event[Any]:
    """The golden example of ``name`` naming ``organization``, without the field ``drop``."""
    raw = json.loads((PACKAGE_ROOT / "examples" / f"{name}.v1.json").read_text())
    raw["data"] |= {"organization_id": organization, "account_id": organization}
    del raw["data"][drop]
    return registry.parse(json.dumps(raw).encode())


@pytest.mark.parametrize("drop", ["organization_id", "account_id"])  # published before, or since
def test_deals_and_invoices_reach_their_organization_by_either_name(drop: str) -> None:
    organization = str(uuid4())

    opened = published("OpportunityOpened", drop=drop, organization=organization)
    invoiced = published("InvoiceIssued", drop=drop, organization=organization)

    link = link_of(opened)
    assert link is not None and link.organization_id == organization
    assert organization_named(invoiced) == organization
    for event in (opened, invoiced):
        change = organization_360.update_for(event)
        assert change is not None and change[1].set["account_id"] == organization
