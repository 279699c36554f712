"""The audience index's rows, computed in memory: what a profile may receive and the facts rules
read, stored as JSON and read back in the types rules compare. The index itself (PostgreSQL,
the quarantine) is tested on the real server."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from crm_marketing.application.audience_index import ProfileRow, _decoded, _encoded
from crm_marketing.domain import AudienceProfile
from crm_marketing.domain.profile import ContactDetails

from .conftest import NOW

pytestmark = pytest.mark.unit


def profile() -> AudienceProfile:
    customer = AudienceProfile(id=uuid4())
    details = ContactDetails(email="a@example.org", region="EMEA", tags=frozenset({"VIP"}))
    customer.learn_details(details, registered_at=NOW)
    customer.decide_consent("email", "marketing", True, NOW)
    customer.decide_consent("phone", "marketing", True, NOW)
    customer.decide_consent("email", "research", False, NOW)
    customer.record_order(uuid4(), NOW - timedelta(days=3))
    customer.record_payment(uuid4(), Decimal("12.50"), "EUR")
    return customer


def test_a_row_holds_what_the_profile_may_receive_and_its_facts_at_its_version() -> None:
    customer = profile()
    customer.unsubscribe("phone", NOW)

    row = ProfileRow.of(customer)

    assert row.reach == {"email:marketing"}
    assert row.version == customer.version
    assert row.attributes == customer.attributes()


def test_an_erased_profile_reaches_nobody_and_matches_no_rule() -> None:
    customer = profile()
    customer.erase(NOW)

    row = ProfileRow.of(customer)

    assert (row.reach, row.attributes) == (frozenset(), None)


def test_facts_of_every_kind_come_back_from_json_as_they_were() -> None:
    facts = profile().attributes()
    encoded = _encoded(facts)
    assert encoded is not None

    stored = json.loads(json.dumps(encoded.obj))

    assert _decoded(stored) == facts
    assert _encoded(None) is None and _decoded(None) is None
