"""Analytics' part of a subject-access request on a real MongoDB-wire server: the person's 360
and timeline, their personal values opened with the keyring, and their scores; nothing once
analytics erased the person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm_analytics.application.erasure import ErasureConfirmations, erase
from crm_analytics.application.metrics_scores import CustomerScores
from crm_analytics.messaging.subject_access import SubjectAccess
from crm_analytics.read_models.customer_360 import NAME, Customer360Model, Customer360Reads
from crm_platform.privacy import MongoKeyring
from crm_platform.read_models import Catalog

pytestmark = pytest.mark.integration


@pytest.fixture
async def subject_access(database: Any) -> SubjectAccess:
    catalog = Catalog(database, [Customer360Model()], write_concern=1, cache_seconds=0)
    return SubjectAccess(
        Customer360Reads(catalog),
        MongoKeyring(database["personal_data_keys"]),
        CustomerScores(database["metrics_customer_scores"]),
        ErasureConfirmations(database["erasure_confirmations"]),
    )


async def project(subject_access: SubjectAccess, *events: Any) -> None:
    catalog = subject_access.reads.catalog
    model = catalog.models[NAME]
    store = await catalog.active(NAME)
    await model.prepare(store)
    await model.apply(list(events), store)


async def test_analytics_answers_with_the_opened_360_timeline_and_scores(
    subject_access: SubjectAccess, stream: Any
) -> None:
    person = stream()
    await subject_access.keyring.issued(person.customer_id, person.key)
    await project(subject_access, person.registered(), person.contacted(), person.consent(True))
    scores = {"_id": str(person.customer_id), "version": 1, "rfm": {"segment": "champions"}}
    await subject_access.scores.collection.insert_one(
        {**scores, "outbox": [], "outbox_pending": False}
    )

    held = await subject_access.held_about(person.customer_id)

    [customer] = held["customer_360"]
    assert (customer["profile"]["given_name"], customer["profile"]["family_name"]) == (
        "Ada",
        "Lovelace",
    )
    assert [c["channel"] for c in customer["consents"]] == ["email"]
    assert customer["interaction_count"] == 1
    [call] = [e for e in held["timeline"] if e["kind"] == "interaction"]
    assert call["personal"]["summary"] == "message 2" and "sealed" not in call
    assert held["scores"] == [{"version": 1, "rfm": {"segment": "champions"}}]


async def test_a_stranger_holds_nothing_and_an_erased_person_is_answered_with_nothing(
    subject_access: SubjectAccess, stream: Any
) -> None:
    person = stream()
    await subject_access.keyring.issued(person.customer_id, person.key)
    await project(subject_access, person.registered())
    stranger = await subject_access.held_about(stream().customer_id)
    assert stranger == {"customer_360": [], "timeline": [], "scores": []}

    await erase(
        subject_access.keyring, subject_access.erasures, person.customer_id, datetime.now(UTC)
    )

    assert await subject_access.held_about(person.customer_id) == {}
