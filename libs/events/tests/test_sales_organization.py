"""Sales contracts name the buying organization ``organization_id``; ``account_id``, its former
name, is kept with the same value for one release (issue 12: one vocabulary)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from crm_events import registry
from crm_events.sales.opportunities import OpportunityFlaggedAtRisk

pytestmark = pytest.mark.unit

NAMING = [model for model in registry if "account_id" in model.model_fields]


def flagged(**names: Any) -> OpportunityFlaggedAtRisk:
    return OpportunityFlaggedAtRisk.model_validate(
        {"opportunity_id": uuid4(), "reason": "escalated", "flagged_at": "2026-01-01T00:00Z"}
        | names
    )


def test_every_sales_contract_with_account_id_carries_organization_id_and_deprecates_it() -> None:
    assert len(NAMING) == 10
    for model in NAMING:
        schema = model.model_json_schema()["properties"]
        assert "organization_id" in model.model_fields, model.event_type
        assert "organization_id" not in schema.get("required", [])
        assert schema["account_id"]["deprecated"] is True, model.event_type


def test_an_event_published_before_organization_id_is_read_with_it() -> None:
    organization = uuid4()

    older = flagged(account_id=str(organization))

    assert (older.organization_id, older.account_id) == (organization, organization)


def test_an_event_given_organization_id_alone_carries_account_id_for_older_subscribers() -> None:
    organization = uuid4()

    newer = flagged(organization_id=organization)

    assert newer.model_dump(mode="json")["account_id"] == str(organization)
    assert flagged(account_id=None).organization_id is None
