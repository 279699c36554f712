"""Reactions of the pipeline area to other services' events (run by the worker).

- ``CampaignResponseReceived`` (marketing): behaviour of the respondent's open leads when the
  respondent is a known customer with some, else a new lead whose id is derived from the response
  id (a redelivered response captures nothing twice). The respondent's contact details arrive
  sealed; a keyring fed by the key topic opens them (a respondent erased meanwhile yields no lead).
- ``CustomerContacted`` v2 (contacts): an interaction with a customer is behaviour of the
  customer's open leads, which are rescored.
- ``CustomerRegistered`` v2 (contacts), in a group of its own that reads the topic from its
  start: sales has heard of the customer, and the deals flagged for naming them are cleared.

Each reaction is exactly-once (``crm_platform.tracking``): what it changes is saved with the Kafka
position of the event that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

import psycopg
from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.contacts.customer_v2 import CustomerContactedV2, CustomerRegisteredV2
from crm_events.marketing import CampaignResponseReceived
from crm_events.personal import Sealed
from crm_platform.privacy import PostgresKeyring, subscribe_personal_data_keys
from crm_platform.settings import KafkaSettings
from crm_platform.tracking import subscribe_reactions

from ..shared.domain.errors import RuleViolation
from ..shared.domain.values import country_code, custom_fields, optional_text, positive_int
from .application.commands import LeadDetails
from .domain.scoring import CampaignResponse, Interaction

log = logging.getLogger(__name__)

GROUP_ID = "sales.pipeline"
KEYS_GROUP_ID = "sales.pipeline.keys"
KNOWN_CUSTOMERS_GROUP_ID = "sales.known-customers"
TOPICS = (CampaignResponseReceived.topic(), CustomerContactedV2.topic())
# Answers a campaign form may carry that are lead attributes rather than custom fields.
ANSWERED_ATTRIBUTES = ("country", "industry", "company_size")

V = TypeVar("V")


class Unsealer(Protocol):
    """Opens sealed values synchronously (reactions run in worker threads): ``PostgresKeyring``."""

    def unseal_sync(self, sealed: Sealed | None) -> Any: ...


def subscribe(
    broker: KafkaBroker, application: Any, *, keyring: PostgresKeyring | None = None
) -> None:
    """``keyring``: where the keys of other services' data subjects are kept (default: a table
    in the application's own database)."""
    kafka = KafkaSettings()
    keyring = keyring or PostgresKeyring(_database_of(application))
    subscribe_personal_data_keys(broker, keyring, group_id=kafka.group(KEYS_GROUP_ID))
    subscribe_reactions(
        broker,
        application,
        topics=TOPICS,
        group_id=kafka.group(GROUP_ID),
        handler=partial(react, keyring),
    )
    subscribe_reactions(
        broker,
        application,
        topics=(CustomerRegisteredV2.topic(),),
        group_id=kafka.group(KNOWN_CUSTOMERS_GROUP_ID),
        handler=learn_customer,
    )


def learn_customer(application: Any, event: Event[Any], position: Tracking) -> None:
    """The other events of the customer topic change nothing here."""
    if isinstance(event.data, CustomerRegisteredV2):
        application.note_customer_registered(event.data.customer_id, position=position)


def react(keyring: Unsealer, application: Any, event: Event[Any], position: Tracking) -> None:
    """Other events on these topics are none of this area's business and change nothing."""
    data = event.data
    if isinstance(data, CampaignResponseReceived):
        application.note_campaign_response(
            CampaignResponse(
                data.response_id, data.campaign_id, data.kind.value, data.responded_at
            ),
            customer_id=data.customer_id,
            details=respondent(keyring, data),
            position=position,
        )
    elif isinstance(data, CustomerContactedV2):
        interaction = Interaction(
            data.interaction_id, data.channel.value, data.direction.value, data.occurred_at
        )
        application.note_customer_interaction(data.customer_id, interaction, position=position)


def respondent(keyring: Unsealer, response: CampaignResponseReceived) -> LeadDetails | None:
    """The lead details of a response; None without a name (unknown, or erased meanwhile).

    Answers are the respondent's own typing: one that does not fit a lead attribute is dropped
    rather than holding the whole response back.
    """
    name = keyring.unseal_sync(response.name)
    if not name:
        return None
    answers = dict(response.answers)
    known = {attribute: answers.pop(attribute, None) for attribute in ANSWERED_ATTRIBUTES}
    fields = {key: value for key, value in answers.items() if _is_custom_field(key, value)}
    return LeadDetails(
        family_name=name["family_name"],
        given_name=name.get("given_name"),
        email=keyring.unseal_sync(response.email),
        phone=keyring.unseal_sync(response.phone),
        company=keyring.unseal_sync(response.company),
        country=_lenient(lambda v: country_code(str(v)), known["country"]),
        industry=_lenient(lambda v: optional_text("industry", str(v), 100), known["industry"]),
        company_size=_lenient(
            lambda v: positive_int(int(v), "company_size"), known["company_size"]
        ),
        fields=fields,
        customer_id=response.customer_id,
        campaign_id=response.campaign_id,
    )


def _lenient(normalize: Callable[[Any], V], value: Any) -> V | None:
    if value is None:
        return None
    try:
        return normalize(value)
    except (RuleViolation, ValueError, TypeError):
        log.info("a campaign answer that fits no lead attribute was dropped")
        return None


def _is_custom_field(name: str, value: Any) -> bool:
    try:
        custom_fields({name: value})
    except RuleViolation:
        log.info("a campaign answer unfit for a custom field was dropped")
        return False
    return True


def _database_of(application: Any) -> str:
    """The connection string of the application's own PostgreSQL database."""
    env = application.env
    return psycopg.conninfo.make_conninfo(
        host=env.get("POSTGRES_HOST"),
        port=env.get("POSTGRES_PORT"),
        user=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD"),
        dbname=env.get("POSTGRES_DBNAME"),
    )
