"""Idempotency keys: header validation, ids derived from keys, request fingerprints."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from crm_platform.web.app import create_api
from crm_platform.web.idempotency import (
    IdempotencyKey,
    OptionalIdempotencyKey,
    idempotent_id,
    request_fingerprint,
)
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.unit


class Order(BaseModel):
    item: str
    quantity: int = 1
    note: str | None = None


def test_the_same_key_scope_and_principal_always_give_the_same_id() -> None:
    # Pinned: ids of aggregates already stored depend on this derivation never changing.
    assert idempotent_id("key-0001", scope="customer", principal="alice") == uuid.UUID(
        "de997288-7a12-533a-afd1-62e282bfb7e8"
    )


def test_any_other_key_scope_or_principal_gives_another_id() -> None:
    first = idempotent_id("key-0001", scope="customer", principal="alice")
    others = {
        idempotent_id("key-0002", scope="customer", principal="alice"),
        idempotent_id("key-0001", scope="deal", principal="alice"),
        idempotent_id("key-0001", scope="customer", principal="bob"),
        idempotent_id("0001", scope="customer", principal="alice\x1fkey-"),
    }
    assert first not in others and len(others) == 4


def test_request_fingerprints_follow_the_content_not_the_spelling() -> None:
    order = Order(item="pen", quantity=2)
    assert request_fingerprint(order) == request_fingerprint(
        Order.model_validate_json('{"quantity": 2, "item": "pen"}')
    )
    assert request_fingerprint(order) == request_fingerprint(
        Order(item="pen", quantity=2, note=None)
    )
    assert request_fingerprint(order) != request_fingerprint(Order(item="pen", quantity=3))
    # Pinned, like the ids: fingerprints are stored and compared across releases.
    assert request_fingerprint(Order(item="é")) == (
        "76c45b7ab1e5ee48db5165f5d63d6ccc3c9cbce15e4f18b0981368e9b43e5888"
    )


def _client() -> TestClient:
    router = APIRouter()

    @router.post("/orders")
    def create(key: IdempotencyKey) -> dict[str, Any]:
        return {"key": key}

    @router.put("/orders")
    def upsert(key: OptionalIdempotencyKey = None) -> dict[str, Any]:
        return {"key": key}

    return TestClient(create_api(title="T", service="t", routers=[router]))


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("short", "string_too_short"),
        ("k" * 201, "string_too_long"),
        ("has space", "string_pattern_mismatch"),
    ],
)
def test_unusable_keys_are_refused(key: str, kind: str) -> None:
    response = _client().post("/orders", headers={"Idempotency-Key": key})
    errors = assert_problem(response, 422)["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [("header.Idempotency-Key", kind)]


def test_a_key_is_required_unless_declared_optional() -> None:
    client, key = _client(), str(uuid.uuid4())
    assert client.post("/orders", headers={"Idempotency-Key": key}).json() == {"key": key}
    assert_problem(client.post("/orders"), 422)
    assert client.put("/orders").json() == {"key": None}
    assert client.put("/orders", headers={"Idempotency-Key": key}).json() == {"key": key}
    assert_problem(client.put("/orders", headers={"Idempotency-Key": "short"}), 422)
