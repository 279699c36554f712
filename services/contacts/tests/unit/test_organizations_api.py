"""Organizations and custom field definitions over HTTP."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from .conftest import ADMIN, READ, WRITE, assert_problem, key

pytestmark = pytest.mark.unit

ACME = {"name": "Acme Distribution", "tax_id": "de 123 456 789", "website": "acme.example"}


def register(client: TestClient, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post("/organizations", json=body or ACME, headers={**WRITE, **key(), **headers})


def patch(client: TestClient, organization_id: str, body: dict[str, Any], **headers: str) -> Any:
    return client.patch(
        f"/organizations/{organization_id}", json=body, headers={**WRITE, **key(), **headers}
    )


def test_an_organization_is_registered_as_a_customer_account_by_default(client: TestClient) -> None:
    response = register(client)

    assert response.status_code == 201, response.text
    organization = response.json()
    assert response.headers["ETag"] == 'W/"1"'
    assert (organization["kinds"], organization["partner_type"]) == (["customer"], None)
    assert (organization["tax_id"], organization["website"]) == (
        "DE123456789",
        "https://acme.example",
    )
    assert client.get(response.headers["Location"], headers=READ).json() == organization


def test_partners_and_suppliers(client: TestClient) -> None:
    partner = register(
        client, {"name": "Resell Ltd", "kinds": ["partner"], "partner_type": "reseller"}
    ).json()
    supplier = register(client, {"name": "Parts plc", "kinds": ["supplier"]}).json()

    promoted = patch(
        client,
        supplier["id"],
        {"kinds": ["supplier", "partner"], "partner_type": "distributor"},
        **{"If-Match": 'W/"1"'},
    )

    assert partner["partner_type"] == "reseller"
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["kinds"], promoted.json()["version"]) == (
        ["partner", "supplier"],
        2,
    )


def test_a_subsidiary_names_its_parent(client: TestClient) -> None:
    parent = register(client).json()["id"]
    child = register(client, {"name": "Acme UK", "parent_id": parent}).json()

    assert child["parent_id"] == parent
    assert_problem(patch(client, parent, {"parent_id": child["id"]}), 422, "body.parent_id")
    assert_problem(
        register(client, {"name": "Orphan", "parent_id": str(uuid4())}), 422, "body.parent_id"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "X", "kinds": []}, "body.kinds"),
        ({"name": "X", "kinds": ["partner"]}, "body.partner_type"),
        ({"name": "X", "partner_type": "reseller"}, "body.partner_type"),
        ({"name": "X", "website": "mailto:x@y.z"}, "body.website"),
        ({"name": "X", "tax_id": "!"}, "body.tax_id"),
        (
            {"name": "X", "addresses": [{"lines": ["1 Rd"], "locality": "Oz", "country": "OZ"}]},
            "body.addresses.0.country",
        ),
    ],
)
def test_invalid_organizations_name_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(register(client, body), 422, field)


def test_stale_and_retried_updates(client: TestClient) -> None:
    organization_id = register(client).json()["id"]
    headers = {**key(), "If-Match": 'W/"1"'}
    first = patch(client, organization_id, {"industry": "Logistics"}, **headers)

    retry = patch(client, organization_id, {"industry": "Logistics"}, **headers)
    stale = patch(client, organization_id, {"industry": "Retail"}, **{"If-Match": 'W/"1"'})

    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert assert_problem(stale, 409)["current_version"] == 2
    assert_problem(client.get(f"/organizations/{uuid4()}", headers=READ), 404)


def test_custom_fields_are_defined_by_administrators_and_validate_values(
    client: TestClient,
) -> None:
    tier = {"type": "enum", "label": "Tier", "options": ["gold", "silver"]}

    forbidden = client.put("/custom-fields/organization/tier", json=tier, headers=WRITE)
    defined = client.put("/custom-fields/organization/tier", json=tier, headers=ADMIN)
    same = client.put("/custom-fields/organization/tier", json=tier, headers=ADMIN)
    narrowed = client.put(
        "/custom-fields/organization/tier", json={**tier, "options": ["gold"]}, headers=ADMIN
    )
    retyped = client.put(
        "/custom-fields/organization/tier", json={"type": "string", "label": "Tier"}, headers=ADMIN
    )
    stale = client.put(
        "/custom-fields/organization/size",
        json={"type": "number", "label": "Size"},
        headers={**ADMIN, "If-Match": 'W/"1"'},
    )
    listing = client.get("/custom-fields/organization", headers=READ)

    assert_problem(forbidden, 403)
    assert (defined.status_code, same.status_code) == (201, 200)
    assert defined.json() == {
        "name": "tier",
        "type": "enum",
        "label": "Tier",
        "description": None,
        "options": ["gold", "silver"],
    }
    assert_problem(narrowed, 409)
    assert_problem(retyped, 409)
    assert assert_problem(stale, 409)["current_version"] == 2
    assert [f["name"] for f in listing.json()["items"]] == ["tier"]
    assert listing.headers["ETag"] == 'W/"2"'
    assert_problem(
        client.put("/custom-fields/organization/Bad Name", json=tier, headers=ADMIN),
        422,
        "path.name",
    )
    assert_problem(
        client.put("/custom-fields/planet/tier", json=tier, headers=ADMIN), 422, "path.record_kind"
    )
    accepted = register(client, {"name": "Gold Co", "custom_fields": {"tier": "gold"}})
    assert accepted.json()["custom_fields"] == {"tier": "gold"}
    assert_problem(
        register(client, {"name": "Bronze Co", "custom_fields": {"tier": "bronze"}}),
        422,
        "body.custom_fields.tier",
    )


def test_number_custom_fields_come_back_as_numbers(client: TestClient) -> None:
    for kind in ("person", "organization"):
        for name, field in {"employees": "number", "rating": "number", "code": "string"}.items():
            defined = client.put(
                f"/custom-fields/{kind}/{name}",
                json={"type": field, "label": name.title()},
                headers=ADMIN,
            )
            assert defined.status_code == 201, defined.text
    values = {"employees": "1200", "rating": 4.5, "code": "0042"}
    expected = {"employees": 1200, "rating": 4.5, "code": "0042"}

    organization = register(client, {"name": "Acme", "custom_fields": values})
    person = client.post(
        "/customers",
        json={"family_name": "Lovelace", "custom_fields": values},
        headers={**WRITE, **key()},
    )
    changed = patch(client, organization.json()["id"], {"custom_fields": {"employees": -3}})

    assert organization.json()["custom_fields"] == expected
    assert person.status_code == 201, person.text
    assert person.json()["custom_fields"] == expected
    shown = client.get(f"/customers/{person.json()['id']}", headers=READ).json()
    assert shown["custom_fields"] == expected
    assert type(shown["custom_fields"]["employees"]) is int
    export = client.get(f"/customers/{person.json()['id']}/export", headers=READ).json()
    assert export["records"][0]["profile"]["custom_fields"] == expected
    assert changed.json()["custom_fields"] == {**expected, "employees": -3}
