"""Idempotent creation: the new resource's id is derived from the client's Idempotency-Key.

A retried POST with the same key therefore addresses the same aggregate; the service compares the
stored request fingerprint to replay the first answer or refuse a different body (422).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from fastapi import Header
from pydantic import BaseModel

NAMESPACE = uuid.UUID("0b7c6e8e-3f0a-4c1a-9d5e-5a3f2f1b9c10")

idempotency_key: Any = Header(
    alias="Idempotency-Key",
    min_length=8,
    max_length=200,
    pattern=r"^[\x21-\x7e]+$",
    description="Client-chosen unique key (a UUID is ideal); retries with it are safe.",
)


def idempotent_id(key: str, *, scope: str, principal: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{scope}\x1f{principal}\x1f{key}")


def request_fingerprint(model: BaseModel) -> str:
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
