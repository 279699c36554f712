"""Analytics' part of a subject-access request, in memory: an erased person is answered with
nothing, without reading a read model (the opened 360, timeline and scores are tested on the
real MongoDB-wire server: integration/test_subject_access.py)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from crm_analytics.application.erasure import ErasureConfirmations
from crm_analytics.messaging.subject_access import SubjectAccess
from crm_platform.privacy import MemoryKeyring

pytestmark = pytest.mark.unit


class Confirmed:
    """The erasure confirmations' collection, holding one person's."""

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return {"_id": self.customer_id} if query == {"_id": self.customer_id} else None


class Unread:
    """A read model or scores that must not be read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} read for an erased person")


async def test_a_person_analytics_erased_is_answered_with_nothing() -> None:
    customer = uuid4()
    erasures = ErasureConfirmations(Confirmed(str(customer)))  # type: ignore[arg-type]
    access = SubjectAccess(Unread(), MemoryKeyring(), Unread(), erasures)  # type: ignore[arg-type]

    assert await access.held_about(customer) == {}
