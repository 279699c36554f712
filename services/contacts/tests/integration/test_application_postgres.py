"""The contacts application on PostgreSQL: restarts, races, and personal data at rest."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import psycopg
import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_application
from crm_contacts.domain import CustomerErased, IdempotencyKeyReused, VersionConflict
from crm_platform.commands import Outcome
from crm_platform.privacy import KEYS_TABLE
from crm_platform.settings import PostgresSettings

from .conftest import command

pytestmark = pytest.mark.integration


def register(app: ContactsApplication, customer_id: UUID, fingerprint: str = "r") -> Any:
    return app.register_customer(
        command(uuid5(customer_id, "register"), fingerprint=fingerprint),
        customer_id,
        profile={
            "given_name": "Grace",
            "family_name": "Hopper",
            "emails": [{"address": "grace.hopper@navy.example"}],
            "phones": [{"number": "+1 415 555 0100"}],
        },
    )


def record(app: ContactsApplication, customer_id: UUID, expected_version: int | None) -> Any:
    """The interaction recorded, and whether it was replayed."""
    cmd = command(expected_version=expected_version)
    outcome = app.record_contact(
        customer_id,
        cmd,
        channel="meeting",
        direction="outbound",
        summary="Demo of the compiler to Commodore Hopper",
        actor="bob",
        occurred_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC),
    )
    return Outcome(outcome.value.interactions[cmd.command_id], outcome.replayed)


def stored_state(
    application: ContactsApplication, postgres: PostgresSettings, customer_id: UUID
) -> bytes:
    """Every stored event of the customer, as the database holds it."""
    table = application.recorder.events_table_name  # type: ignore[attr-defined]
    with psycopg.connect(postgres.dsn(postgres.database or "contacts")) as conn:
        rows = conn.execute(
            f"SELECT state FROM {table} WHERE originator_id = %s ORDER BY originator_version",
            (customer_id,),
        ).fetchall()
    assert rows
    return b"".join(bytes(row[0]) for row in rows)


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

    assert customer.version == 2
    assert customer.person.phones[0].item.number == "+14155550100"
    assert [s.item for s in customer.person.interactions] == [recorded]
    assert customer.person.interactions[0].item.occurred_at.utcoffset() == timedelta(0)


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


def test_personal_data_is_stored_sealed_and_unreadable_once_erased(
    application: ContactsApplication, postgres: PostgresSettings
) -> None:
    customer_id, bystander = uuid4(), uuid4()
    register(application, customer_id)
    register(application, bystander)
    record(application, customer_id, expected_version=None)

    at_rest = stored_state(application, postgres, customer_id)
    assert (
        b"Hopper" not in at_rest and b"grace.hopper" not in at_rest and b"Commodore" not in at_rest
    )
    assert application.get_customer(customer_id).person.family_name == "Hopper"

    application.erase_customer(customer_id, command())

    restarted = build_application(postgres)  # no cache, no key: a fresh process
    try:
        with pytest.raises(CustomerErased):
            restarted.get_customer(customer_id)
        export = restarted.export_customer(customer_id)
        assert [r.profile.family_name for r in export.records] == [None]
        assert all(
            value is None
            for entry in export.records[0].history
            for name, value in entry.data.items()
            if name in ("family_name", "given_name", "emails", "summary")
        )
        assert restarted.get_customer(bystander).person.family_name == "Hopper"
    finally:
        restarted.close()
    with psycopg.connect(postgres.dsn(postgres.database or "contacts")) as conn:
        key, destroyed_at = conn.execute(
            f"SELECT key, destroyed_at FROM {KEYS_TABLE} WHERE subject_id = %s", (customer_id,)
        ).fetchone()  # type: ignore[misc]
    assert key is None and destroyed_at is not None
