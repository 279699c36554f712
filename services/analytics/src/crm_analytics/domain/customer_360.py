"""The customer 360 read model as pure functions of the contacts events.

One document per customer, keyed by the customer id (the aggregate id of the contacts ``customer``
aggregate), fed by ``crm.contacts.customer.v2``. Personal data stays as it arrives: sealed with the
person's key. The API opens it when it answers, so erasing the person (destroying the key) hides it
at once, also from documents rebuilt later; ``CustomerErased`` then removes the sealed profile too. Each event becomes an :class:`Update` made of MongoDB update operators on top-level
fields only, so the repository sends it unchanged and :func:`apply_update` interprets it in memory
with the same result (unit and property tests fold events through it).

Idempotency rests on the aggregate version alone, so the document never keeps a growing list of
applied event ids: Kafka keeps one aggregate's events in order (the record key is the aggregate id),
the document's ``version`` is the version of the last applied event, and an event applies only when
it is exactly the next one. The effect and the version bump are one single-document update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
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

Document = dict[str, Any]

INTERACTION = "interaction"


class Decision(Enum):
    APPLY = "apply"
    DUPLICATE = "duplicate"


class VersionGap(Exception):
    """An event arrived while one of its predecessors has not been applied.

    With per-aggregate ordering this means a predecessor never reached the projection (it was
    dead-lettered, or the topic lost it). Applying the event would hide the hole forever and
    skipping it would lose data, so the error goes to the consumer base, which retries and then
    dead-letters the event next to its missing predecessor; replaying the dead letters in order, or
    rebuilding the read model from the topic, repairs the document.
    """

    def __init__(self, customer_id: str, stored: int, received: int) -> None:
        super().__init__(
            f"customer {customer_id}: read model is at version {stored}, "
            f"received version {received} (expected {stored + 1})"
        )
        self.customer_id = customer_id
        self.stored = stored
        self.received = received


@dataclass(frozen=True)
class Update:
    """What one event changes, as update operators on top-level fields of one document."""

    customer_id: str
    version: int
    set: Mapping[str, Any]
    push: Mapping[str, Any] = field(default_factory=dict)
    inc: Mapping[str, int] = field(default_factory=dict)
    max: Mapping[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    def operators(self) -> Document:
        """The MongoDB update document (empty operators are rejected by the server)."""
        ops = {
            "$set": self.set,
            "$push": self.push,
            "$inc": self.inc,
            "$max": self.max,
            "$unset": dict.fromkeys(self.unset, ""),
        }
        return {name: dict(fields) for name, fields in ops.items() if fields}


def decide(customer_id: str, stored_version: int, event_version: int) -> Decision:
    """Apply only the next version; an older or equal one was applied before (a redelivery)."""
    if event_version <= stored_version:
        return Decision.DUPLICATE
    if event_version == stored_version + 1:
        return Decision.APPLY
    raise VersionGap(customer_id, stored_version, event_version)


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
    data = event.data
    version = event.aggregateversion
    if isinstance(data, CustomerRegisteredV2):
        return Update(event.aggregateid, version, {**common, "profile": _profile(data)})
    if isinstance(data, CustomerProfileUpdated):
        change = {
            "changed": list(data.changed),
            "changes": _sealed(data.changes),
            "updated_at": bson_time(data.updated_at),
        }
        return Update(event.aggregateid, version, common, push={"profile_changes": change})
    if isinstance(data, CustomerContactedV2):
        entry = _interaction(data, event)
        return Update(
            event.aggregateid,
            version,
            common,
            push={"timeline": entry},
            inc={"interaction_count": 1},
            max={"last_interaction_at": entry["occurred_at"]},
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
        return Update(event.aggregateid, version, common, push={"consent_decisions": decision})
    if isinstance(data, ContactsMerged | ContactsUnmerged):
        merge = {
            "merge_id": str(data.merge_id),
            "survivor_id": str(data.survivor_id),
            "duplicate_id": str(data.duplicate_id),
            "merged": isinstance(data, ContactsMerged),
            "at": bson_time(
                data.merged_at if isinstance(data, ContactsMerged) else data.unmerged_at
            ),
        }
        return Update(event.aggregateid, version, common, push={"merges": merge})
    if isinstance(data, CustomerErased):
        erased = {**common, "erased_at": bson_time(data.erased_at)}
        return Update(event.aggregateid, version, erased, unset=("profile", "profile_changes"))
    return Update(event.aggregateid, version, common)


def project(document: Document | None, event: Event[Any]) -> Update | None:
    """The update to apply for ``event`` on ``document`` (``None`` when it is a redelivery)."""
    stored = document["version"] if document else 0
    if decide(event.aggregateid, stored, event.aggregateversion) is Decision.DUPLICATE:
        return None
    return update_for(event)


def apply_update(document: Document | None, update: Update) -> Document:
    """In-memory semantics of :meth:`Update.operators`, as an upsert would apply them."""
    new: Document = dict(document) if document else {"_id": update.customer_id}
    new.update(update.set)
    for name, value in update.push.items():
        new[name] = [*new.get(name, []), value]
    for name, amount in update.inc.items():
        new[name] = new.get(name, 0) + amount
    for name, value in update.max.items():
        if name not in new or value > new[name]:
            new[name] = value
    for name in update.unset:
        new.pop(name, None)
    return new


def bson_time(value: datetime) -> datetime:
    """UTC with millisecond precision, the precision of a BSON date.

    Truncating here keeps the in-memory document identical to the stored one. A naive time (the
    contract does not require an offset for ``occurred_at``) is taken as UTC.
    """
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


def _sealed(value: Sealed | None) -> Document | None:
    return None if value is None else value.model_dump(mode="json")


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


def _profile(data: CustomerRegisteredV2) -> Document:
    sealed = {name: _sealed(getattr(data, name)) for name in PROFILE_FIELDS}
    return {
        **sealed,
        "origin": data.origin.value,
        "lead_id": None if data.lead_id is None else str(data.lead_id),
        "registered_at": bson_time(data.registered_at),
    }


def _interaction(data: CustomerContactedV2, event: Event[Any]) -> Document:
    related = data.related_to
    return {
        "id": str(data.interaction_id),
        "kind": INTERACTION,
        "channel": data.channel.value,
        "direction": data.direction.value,
        "subject": _sealed(data.subject),
        "summary": _sealed(data.summary),
        "actor": data.actor,
        "related_to": None if related is None else {"kind": related.kind, "id": related.id},
        "occurred_at": bson_time(data.occurred_at),
        "source": event.source,
        "source_event_id": str(event.id),
    }
