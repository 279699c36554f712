"""What the contacts worker does with other services' events."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from faststream.kafka import KafkaBroker

from crm_events.erasure import CONFIRMATION_TOPICS
from crm_events.marketing import CampaignCallRecorded, RecipientUnsubscribed
from crm_events.sales.leads import LeadConverted
from crm_platform.privacy import PostgresKeyring, subscribe_personal_data_keys
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.tracking import subscribe_reactions

from ..application import ContactsApplication
from .consents import record_withdrawal
from .erasure import record_confirmation
from .leads import register_converted_lead
from .subject_access import subscribe_subject_access

DATABASE = "contacts"
LEAD_CONVERSIONS = "contacts.lead-conversions"
PERSONAL_DATA_KEYS = "contacts.personal-data-keys"
ERASURE_CONFIRMATIONS_GROUP = "contacts.erasure-confirmations"
MARKETING_WITHDRAWALS = "contacts.marketing-withdrawals"
MARKETING_TOPICS = (RecipientUnsubscribed.topic(), CampaignCallRecorded.topic())


def subscribe(
    broker: KafkaBroker,
    application: ContactsApplication,
    *,
    kafka: KafkaSettings | None = None,
    postgres: PostgresSettings | None = None,
    lead_topics: Sequence[str] = (LeadConverted.topic(),),
    confirmation_topics: Sequence[str] = CONFIRMATION_TOPICS,
    marketing_topics: Sequence[str] = MARKETING_TOPICS,
) -> PostgresKeyring:
    """Subscribe the worker's consumers; the keyring they share (in the contacts database).

    ``lead_topics``: where sales publishes lead conversions; ``confirmation_topics``: where the
    services confirm erasures; ``marketing_topics``: where marketing reports unsubscribes and
    call outcomes (tests name topics of their own).
    """
    kafka, postgres = kafka or KafkaSettings(), postgres or PostgresSettings()
    keyring = PostgresKeyring(postgres.dsn(postgres.database or DATABASE))
    subscribe_personal_data_keys(broker, keyring, group_id=kafka.group(PERSONAL_DATA_KEYS))
    subscribe_reactions(
        broker,
        application,
        topics=lead_topics,
        group_id=kafka.group(LEAD_CONVERSIONS),
        handler=partial(register_converted_lead, keyring=keyring),
    )
    subscribe_reactions(
        broker,
        application,
        topics=confirmation_topics,
        group_id=kafka.group(ERASURE_CONFIRMATIONS_GROUP),
        handler=record_confirmation,
    )
    subscribe_reactions(
        broker,
        application,
        topics=marketing_topics,
        group_id=kafka.group(MARKETING_WITHDRAWALS),
        handler=record_withdrawal,
    )
    return keyring


def subscribe_worker(broker: KafkaBroker, application: ContactsApplication) -> None:
    """The worker's subscriptions; their keyring lives as long as the worker's process."""
    subscribe(broker, application)
    subscribe_subject_access(broker, application)


__all__ = ["subscribe", "subscribe_worker"]
