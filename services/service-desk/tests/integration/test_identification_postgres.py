"""On PostgreSQL: an unknown sender's tickets are found by the hash of the address kept in the
index (never the address), linked once to the customer, and the link outlives a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest

from crm_platform.settings import PostgresSettings
from crm_service_desk.application import InboundEmail
from crm_service_desk.application.index import email_digest
from crm_service_desk.bootstrap import build_application

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def mail_from(sender: str) -> InboundEmail:
    return InboundEmail(
        message_id=f"<{uuid4()}@mail.example>",
        sender=sender,
        subject="Refund?",
        body="Please refund my order.",
        received_at=NOW,
    )


def test_unknown_senders_tickets_are_linked_by_the_address_hash(
    postgres: PostgresSettings,
) -> None:
    app = build_application(postgres)
    try:
        ticket = app.receive_email(mail_from("lea@example.org")).value
        with psycopg.connect(postgres.dsn(postgres.database)) as conn:
            stored = conn.execute(
                "SELECT sender_digest FROM sd_tickets WHERE ticket_id = %s", (ticket.id,)
            ).fetchone()
        assert stored == (email_digest("lea@example.org"),)

        customer = uuid4()
        assert app.learn_customer_email(customer, "LEA@example.org") == 1
    finally:
        app.close()
    restarted = build_application(postgres)
    try:
        assert restarted.get_ticket(ticket.id).customer_id == customer
        assert restarted.learn_customer_email(customer, "lea@example.org") == 0
        assert restarted.index.tickets_from_unknown("lea@example.org") == []
    finally:
        restarted.close()
