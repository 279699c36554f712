"""Private domain events -> published integration events: the relay's Translator.

The relay decodes stored events without opening personal data: the personal fields of the domain
events it hands over are ``Sealed`` values, copied here into the integration events as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_events import Event, EventData
from crm_events.contacts import (
    ConsentGranted,
    ConsentWithdrawn,
    ContactsMerged,
    ContactsUnmerged,
    CustomerContactedV2,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
    InteractionChannel,
    InteractionDirection,
    OrganizationProfileUpdated,
    OrganizationRegistered,
    PartnerRegistered,
    RecordReference,
    RegistrationOrigin,
)
from crm_events.erasure import ErasedData, ErasureMethod, erasure_confirmed
from crm_events.personal import PersonalDataKeyDestroyed
from crm_events.subject_access import SubjectAccessRequested
from crm_platform.eventstore import EventMetadata
from crm_platform.relay import integration_event

from ..domain import PERSON_SECTIONS, ConsentStatus, Customer, Organization, OrganizationKind
from ..domain.subject_access import SubjectAccessFile

SOURCE_SERVICE = "contacts"
# What contacts makes unreadable when it erases a person: every record it stores about them.
ERASED = (ErasedData(kind="person", method=ErasureMethod.KEY_DESTROYED),)


def translate(domain_event: Any, metadata: EventMetadata | None) -> list[Event[Any]]:
    """The integration events announcing ``domain_event``, in order; none for private ones."""
    translator = _TRANSLATORS.get(type(domain_event))
    payloads = translator(domain_event) if translator else []
    return [
        integration_event(data, domain_event, metadata, source_service=SOURCE_SERVICE, part=part)
        for part, data in enumerate(payloads)
    ]


def _customer_registered(e: Any) -> list[EventData]:
    return [
        CustomerRegisteredV2(
            customer_id=e.originator_id,
            **{name: getattr(e, name) for name in PERSON_SECTIONS},
            origin=RegistrationOrigin(e.origin),
            lead_id=e.lead_id,
            registered_at=e.timestamp,
        )
    ]


def _customer_profile_updated(e: Any) -> list[EventData]:
    return [
        CustomerProfileUpdated(
            customer_id=e.originator_id,
            changed=e.changed,
            changes=e.changes,
            updated_at=e.timestamp,
        )
    ]


def _customer_contacted(e: Any) -> list[EventData]:
    return [
        CustomerContactedV2(
            customer_id=e.originator_id,
            interaction_id=e.interaction_id,
            channel=InteractionChannel(e.channel),
            direction=InteractionDirection(e.direction),
            subject=e.subject,
            summary=e.summary,
            actor=e.actor,
            related_to=None if e.related_to is None else RecordReference(**e.related_to),
            occurred_at=e.occurred_at,
        )
    ]


def _consent_decided(e: Any) -> list[EventData]:
    decided = ConsentGranted if e.status == ConsentStatus.GRANTED else ConsentWithdrawn
    return [
        decided(
            customer_id=e.originator_id,
            decision_id=e.decision_id,
            channel=e.channel,
            purpose=e.purpose,
            source=e.source,
            evidence=e.evidence,
            decided_at=e.decided_at,
        )
    ]


def _merged(e: Any) -> list[EventData]:
    return [
        ContactsMerged(
            customer_id=e.originator_id,
            merge_id=e.merge_id,
            survivor_id=e.survivor_id,
            duplicate_id=e.duplicate_id,
            merged_at=e.merged_at,
        )
    ]


def _unmerged(e: Any) -> list[EventData]:
    return [
        ContactsUnmerged(
            customer_id=e.originator_id,
            merge_id=e.merge_id,
            survivor_id=e.survivor_id,
            duplicate_id=e.duplicate_id,
            unmerged_at=e.unmerged_at,
        )
    ]


def _erased(e: Any) -> list[EventData]:
    """The key's destruction first: a consumer that reads it forgets the key before the rest.
    Last, contacts' own part confirmed (``crm.contacts.erasure.v1``): recorded with the key
    destroyed before, every stored copy of the person is unreadable."""
    return [
        PersonalDataKeyDestroyed(subject_id=e.originator_id, destroyed_at=e.erased_at),
        CustomerErased(customer_id=e.originator_id, erased_at=e.erased_at),
        erasure_confirmed(
            SOURCE_SERVICE, customer_id=e.originator_id, erased=ERASED, confirmed_at=e.erased_at
        ),
    ]


def _organization_registered(e: Any) -> list[EventData]:
    details = {name: getattr(e, name) for name in _ORGANIZATION_FIELDS}
    registered = OrganizationRegistered(
        organization_id=e.originator_id, **details, registered_at=e.timestamp
    )
    if OrganizationKind.PARTNER in e.kinds:
        return [registered, _partner(e, e.partner_type)]
    return [registered]


def _organization_profile_updated(e: Any) -> list[EventData]:
    updated = OrganizationProfileUpdated(
        organization_id=e.originator_id, **e.changes, changed=e.changed, updated_at=e.timestamp
    )
    if e.became_partner:
        return [updated, _partner(e, e.changes["partner_type"])]
    return [updated]


def _partner(e: Any, partner_type: str) -> PartnerRegistered:
    return PartnerRegistered(
        organization_id=e.originator_id, partner_type=partner_type, registered_at=e.timestamp
    )


_ORGANIZATION_FIELDS = tuple(
    name
    for name in OrganizationRegistered.model_fields
    if name not in ("organization_id", "registered_at")
)


def _subject_access_requested(e: Any) -> list[EventData]:
    return [
        SubjectAccessRequested(
            request_id=e.request_id, customer_id=e.customer_id, requested_at=e.requested_at
        )
    ]


_TRANSLATORS: dict[type, Callable[[Any], list[EventData]]] = {
    Customer.Registered: _customer_registered,  # type: ignore[attr-defined]
    Customer.ProfileUpdated: _customer_profile_updated,  # type: ignore[attr-defined]
    Customer.Contacted: _customer_contacted,  # type: ignore[attr-defined]
    Customer.ConsentDecided: _consent_decided,  # type: ignore[attr-defined]
    Customer.Merged: _merged,  # type: ignore[attr-defined]
    Customer.Unmerged: _unmerged,  # type: ignore[attr-defined]
    Customer.Erased: _erased,  # type: ignore[attr-defined]
    Organization.Registered: _organization_registered,  # type: ignore[attr-defined]
    Organization.ProfileUpdated: _organization_profile_updated,  # type: ignore[attr-defined]
    SubjectAccessFile.Requested: _subject_access_requested,  # type: ignore[attr-defined]
}
