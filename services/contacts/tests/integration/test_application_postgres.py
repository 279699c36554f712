from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_application
from crm_contacts.domain import IdempotencyKeyReused, VersionConflict
from crm_platform.settings import PostgresSettings

pytestmark = pytest.mark.integration


def register(app: ContactsApplication, customer_id: UUID, fingerprint: str = "r") -> Any:
    return app.register_customer(
        customer_id,
        given_name="Grace",
        family_name="Hopper",
        email="grace@example.org",
        phone="+1 415 555 0100",
        request_fingerprint=fingerprint,
    )


def record(app: ContactsApplication, customer_id: UUID, expected_version: int | None) -> Any:
    return app.record_contact(
        customer_id,
        expected_version=expected_version,
        interaction_id=uuid4(),
        channel="meeting",
        direction="outbound",
        summary="Demo of the product",
        actor="bob",
        occurred_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC),
        request_fingerprint="c",
    )


def test_customers_survive_a_restart_of_the_application(
    application: ContactsApplication, postgres: PostgresSettings
) -> None:
    customer_id = uuid4()
    register(application, customer_id)
    recorded = record(application, customer_id, expected_version=1).value

    restarted = build_application(postgres)
    try:
        customer = restarted.get_customer(customer_id)
        assert register(restarted, customer_id).replayed
        with pytest.raises(IdempotencyKeyReused):
            register(restarted, customer_id, fingerprint="another")
    finally:
        restarted.close()

    assert (customer.version, customer.phone) == (2, "+14155550100")
    assert customer.interactions == (recorded,)
    assert customer.interactions[0].occurred_at.utcoffset() == timedelta(0)


def test_a_write_losing_the_race_in_the_database_is_a_conflict(
    application: ContactsApplication, postgres: PostgresSettings
) -> None:
    customer_id = uuid4()
    register(application, customer_id)
    rival = build_application(postgres)
    save = application.save

    def save_after_rival(*objs: Any, **kwargs: Any) -> Any:
        del application.save
        record(rival, customer_id, expected_version=1)
        return save(*objs, **kwargs)

    application.save = save_after_rival  # type: ignore[method-assign]
    try:
        with pytest.raises(VersionConflict) as raised:
            record(application, customer_id, expected_version=1)
    finally:
        rival.close()

    assert raised.value.actual == 2
    assert application.get_customer(customer_id).version == 2


def test_of_concurrent_writers_expecting_one_version_exactly_one_wins(
    application: ContactsApplication,
) -> None:
    customer_id = uuid4()
    register(application, customer_id)

    def attempt(_: int) -> str:
        try:
            record(application, customer_id, expected_version=1)
        except VersionConflict:
            return "conflict"
        return "recorded"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(attempt, range(6)))

    assert outcomes == ["conflict"] * 5 + ["recorded"]
    assert application.get_customer(customer_id).version == 2
