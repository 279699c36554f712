"""What the contacts worker does with other services' events."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from faststream.kafka import KafkaBroker

from crm_events.sales.leads import LeadConverted
from crm_platform.privacy import PostgresKeyring, subscribe_personal_data_keys
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.tracking import subscribe_reactions

from ..application import ContactsApplication
from .leads import register_converted_lead

DATABASE = "contacts"
LEAD_CONVERSIONS = "contacts.lead-conversions"
PERSONAL_DATA_KEYS = "contacts.personal-data-keys"


def subscribe(
    broker: KafkaBroker,
    application: ContactsApplication,
    *,
    kafka: KafkaSettings | None = None,
    postgres: PostgresSettings | None = None,
    lead_topics: Sequence[str] = (LeadConverted.topic(),),
) -> PostgresKeyring:
    """Subscribe the worker's consumers; the keyring they share (in the contacts database).

    ``lead_topics``: where sales publishes lead conversions (tests name topics of their own).
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
    return keyring


__all__ = ["subscribe"]
