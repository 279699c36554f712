"""The customer document of the customer 360 read model, as pure functions of contacts events.

One document per customer, keyed by the customer id (the aggregate id of the contacts ``customer``
aggregate), fed by ``crm.contacts.customer.v2``: profile, consents, merges and interaction
figures. The timeline lives in its own collection (:mod:`crm_analytics.domain.timeline`).
Personal data stays as it arrives: sealed with the person's key. The API opens it when it answers,
so erasing the person (destroying the key) hides it at once, also from documents rebuilt later;
``CustomerErased`` then removes the sealed profile too.

Idempotency rests on the aggregate version alone (``Guard.NEXT``), so the document never keeps a
growing list of applied event ids: Kafka keeps one aggregate's events in order (the record key is
the aggregate id), the document's ``version`` is the version of the last applied event, and an
event applies only when it is exactly the next one. Every section records the id of the event
that produced it (its lineage); the interaction figures derive from the timeline's entries.
"""

from __future__ import annotations

from typing import Any

from crm_events import Event
from crm_events.contacts.customer_v2 import (
    ConsentGranted,
    ConsentWithdrawn,
    ContactsMerged,
    ContactsUnmerged,
    CustomerContactedV2,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
)
from crm_events.personal import Sealed

from .updates import Document, Update, bson_time

TOPIC = CustomerRegisteredV2.topic()

PROFILE_FIELDS = (
    "given_name",
    "family_name",
    "emails",
    "phones",
    "addresses",
    "roles",
    "family_members",
    "important_dates",
    "preferences",
    "tags",
    "custom_fields",
)


def is_customer_event(event: Event[Any]) -> bool:
    """An event of the contacts customer aggregate (typed, or of a type this build ignores)."""
    return event.source == "/crm/contacts" and event.aggregatetype == "customer"


def update_for(event: Event[Any]) -> Update:
    """The effect of one customer event, whatever the document currently holds.

    Every event of the aggregate advances the version, including types this projection does not
    show, otherwise the next shown event would look like a gap.
    """
    common = {
        "customer_id": event.aggregateid,
        "version": event.aggregateversion,
        "updated_at": bson_time(event.time),
        "last_event_id": str(event.id),
    }
    data, key, version = event.data, event.aggregateid, event.aggregateversion
    if isinstance(data, CustomerRegisteredV2):
        return Update(key, version, {**common, "profile": _profile(data, event)})
    if isinstance(data, CustomerProfileUpdated):
        change = {
            "changed": list(data.changed),
            "changes": sealed(data.changes),
            "updated_at": bson_time(data.updated_at),
            "source_event_id": str(event.id),
        }
        return Update(key, version, common, push={"profile_changes": [change]})
    if isinstance(data, CustomerContactedV2):
        return Update(
            key,
            version,
            common,
            inc={"interaction_count": 1},
            max={"last_interaction_at": bson_time(data.occurred_at)},
        )
    if isinstance(data, ConsentGranted | ConsentWithdrawn):
        decision = {
            "decision_id": str(data.decision_id),
            "channel": data.channel.value,
            "purpose": data.purpose.value,
            "granted": isinstance(data, ConsentGranted),
            "source": data.source.value,
            "decided_at": bson_time(data.decided_at),
            "source_event_id": str(event.id),
        }
        return Update(key, version, common, push={"consent_decisions": [decision]})
    if isinstance(data, ContactsMerged | ContactsUnmerged):
        merged = isinstance(data, ContactsMerged)
        merge = {
            "merge_id": str(data.merge_id),
            "survivor_id": str(data.survivor_id),
            "duplicate_id": str(data.duplicate_id),
            "merged": merged,
            "at": bson_time(data.merged_at if merged else data.unmerged_at),  # type: ignore[union-attr]
            "source_event_id": str(event.id),
        }
        return Update(key, version, common, push={"merges": [merge]})
    if isinstance(data, CustomerErased):
        erased = {**common, "erased_at": bson_time(data.erased_at)}
        return Update(key, version, erased, unset=("profile", "profile_changes"))
    return Update(key, version, common)


def sealed(value: Sealed | None) -> Document | None:
    """A sealed value as stored: its JSON form, still sealed."""
    return None if value is None else value.model_dump(mode="json")


def _profile(data: CustomerRegisteredV2, event: Event[Any]) -> Document:
    return {
        **{name: sealed(getattr(data, name)) for name in PROFILE_FIELDS},
        "origin": data.origin.value,
        "lead_id": None if data.lead_id is None else str(data.lead_id),
        "registered_at": bson_time(data.registered_at),
        "source_event_id": str(event.id),
    }
