"""Inbound mail sorted by the queue address it was sent to and by the rules of the settings."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from crm_service_desk.application.classification import MailClassifier, MailRule
from crm_service_desk.messaging.inbound_mail import parse_message
from crm_service_desk.messaging.settings import ServiceDeskSettings

pytestmark = pytest.mark.unit

SETTINGS = ServiceDeskSettings.model_validate(
    {
        "mail_queues": {"Complaints@CRM.example": "complaint", "billing@crm.example": "billing"},
        "mail_rules": [
            {"words": ["outage", "down"], "category": "incident", "priority": "urgent"},
            {"words": ["refund"], "category": "billing"},
            {"words": ["asap"], "priority": "high"},
        ],
    }
)


def sorted_mail(
    subject: str, body: str, to: str, envelope: tuple[str, ...] = ()
) -> tuple[str, str]:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ada@example.org", to, subject
    message.set_content(body)
    parsed = parse_message(message.as_bytes(), None, datetime.now(UTC), envelope)
    mail = SETTINGS.classifier().classified(parsed)
    return mail.category, mail.priority


def test_the_queue_address_names_the_category_and_rules_add_the_priority() -> None:
    assert sorted_mail("Rude driver", "ASAP please", "complaints@crm.example") == (
        "complaint",
        "high",
    )
    # The envelope's recipient counts too (a Bcc, a forward from the mail server).
    assert sorted_mail("Hi", "Hello", "team@crm.example", ("billing@crm.example",)) == (
        "billing",
        "normal",
    )


def test_the_first_matching_rule_wins_and_nothing_matching_is_a_normal_question() -> None:
    assert sorted_mail("Site down", "refund us", "support@crm.example") == ("incident", "urgent")
    assert sorted_mail("Refund", "for order 7, asap", "support@crm.example") == ("billing", "high")
    assert sorted_mail("Hello", "How do I download it?", "support@crm.example") == (
        "question",
        "normal",
    )


def test_a_rule_needs_words_and_known_values() -> None:
    with pytest.raises(ValueError):
        MailRule.model_validate({"words": []})
    with pytest.raises(ValueError):
        MailRule.model_validate({"words": ["x"], "category": "gossip"})
    assert (
        MailClassifier({})
        .classified(parse_message(b"From: a@b.example\r\n\r\nhi", None, datetime.now(UTC)))
        .category
        == "question"
    )
