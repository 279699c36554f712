"""Idempotent creation: the new resource's id is derived from the client's Idempotency-Key.

A retried POST with the same key therefore addresses the same aggregate; the service compares the
stored request fingerprint to replay the first answer or refuse a different body (422).

    def register(body: Register, principal: Writer, key: IdempotencyKey) -> Out:
        customer_id = idempotent_id(key, scope="contacts:customer", principal=principal.subject)
        ... application.register(customer_id, ..., fingerprint=request_fingerprint(body))
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel

IDEMPOTENCY_HEADER = "Idempotency-Key"
NAMESPACE = uuid.UUID("0b7c6e8e-3f0a-4c1a-9d5e-5a3f2f1b9c10")  # fixed forever: ids depend on it

idempotency_key: Any = Header(
    alias=IDEMPOTENCY_HEADER,
    min_length=8,
    max_length=200,
    pattern=r"^[\x21-\x7e]+$",  # visible ASCII: a UUID is ideal
    description="Client-chosen unique key (a UUID is ideal); retries with it are safe.",
)
IdempotencyKey = Annotated[str, idempotency_key]
OptionalIdempotencyKey = Annotated[str | None, idempotency_key]  # declare with `= None`


def idempotent_id(key: str, *, scope: str, principal: str) -> uuid.UUID:
    """The same key, scope and principal always give the same id; any difference, another id."""
    # \x1f cannot occur in a key or a scope, so distinct triples never make the same name.
    return uuid.uuid5(NAMESPACE, f"{scope}\x1f{principal}\x1f{key}")


def request_fingerprint(model: BaseModel) -> str:
    """SHA-256 of the model's canonical JSON: equal bodies match, whatever their key order."""
    # Stored fingerprints are compared with new ones: this serialisation must never change.
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
