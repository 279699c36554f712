"""The buying organization is ``organization_id`` on the sales API; ``account_id``, its former
name, is accepted and answered for one release, deprecated (issue 12: one vocabulary). On the
in-memory store; the list filter on PostgreSQL: integration/test_pipeline_api_queries.py."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from .test_pipeline_api import DEAL, READ, WRITE, application, client, field_of, key, post, stored

pytestmark = pytest.mark.unit

__all__ = ["application", "client"]  # the fixtures, shared with the pipeline API's tests


def names(body: dict[str, Any]) -> tuple[Any, Any]:
    return body["organization_id"], body["account_id"]


@pytest.mark.parametrize("name", ["organization_id", "account_id"])
def test_an_opportunity_is_opened_for_an_organization_by_either_name(
    client: TestClient, name: str
) -> None:
    organization = str(uuid4())

    opened = post(client, "/opportunities", {**DEAL, name: organization})

    assert opened.status_code == 201, opened.text
    assert names(opened.json()) == (organization, organization)
    shown = client.get(opened.headers["Location"], headers=READ)
    assert names(shown.json()) == (organization, organization)


def test_both_names_for_different_organizations_are_refused_and_nothing_is_stored(
    client: TestClient, application: SalesApplication
) -> None:
    both = {**DEAL, "organization_id": str(uuid4()), "account_id": str(uuid4())}

    refused = post(client, "/opportunities", both)
    nothing = stored(application)
    same = post(client, "/opportunities", {**both, "account_id": both["organization_id"]})

    assert field_of(assert_problem(refused, 422)) == ["body.account_id"]
    assert nothing == 0
    assert names(same.json()) == (both["organization_id"],) * 2


def test_an_update_sets_or_clears_the_organization_by_either_name(client: TestClient) -> None:
    opened = post(client, "/opportunities", DEAL).json()
    path, organization = opened["id"], str(uuid4())

    def patch(body: dict[str, Any], version: int) -> Any:
        headers = {**WRITE, **key(), "If-Match": f'W/"{version}"'}
        return client.patch(f"/opportunities/{path}", json=body, headers=headers)

    set_ = patch({"account_id": organization}, 1)
    conflicting = patch({"organization_id": None, "account_id": organization}, 2)
    cleared = patch({"organization_id": None}, 2)

    assert names(set_.json()) == (organization, organization)
    assert field_of(assert_problem(conflicting, 422)) == ["body.account_id"]
    assert names(cleared.json()) == (None, None)


def test_the_openapi_document_marks_account_id_deprecated(application: SalesApplication) -> None:
    document = SPEC.build_api(application).openapi()
    schemas = document["components"]["schemas"]
    for model in ("OpenOpportunity", "UpdateOpportunity", "DraftQuote", "OpportunityOut"):
        properties = schemas[model]["properties"]
        assert properties["account_id"]["deprecated"] is True, model
        assert "deprecated" not in properties["organization_id"], model
    for model in ("QuoteOut", "OrderOut", "InvoiceOut", "InvoiceSummary", "OpportunitySummary"):
        assert schemas[model]["properties"]["account_id"]["deprecated"] is True, model
    listing = document["paths"]["/opportunities"]["get"]["parameters"]
    deprecated = {p["name"] for p in listing if p.get("deprecated")}
    assert deprecated == {"account_id"}
