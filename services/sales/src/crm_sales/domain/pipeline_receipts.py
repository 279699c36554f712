"""Receipts of HTTP commands: what makes every command idempotent by its Idempotency-Key.

A command's id is derived from the client's key; its receipt is saved in the same transaction as
the aggregate it changed, so either both exist or neither. A retry finds the receipt and answers
with the aggregate as that command left it; a different request under the same key is refused.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event


class CommandReceipt(Aggregate):
    id: UUID

    @event("Issued")
    def __init__(self, fingerprint: str, target_id: UUID, target_version: int) -> None:
        self.fingerprint = fingerprint
        self.target_id = target_id
        self.target_version = target_version
