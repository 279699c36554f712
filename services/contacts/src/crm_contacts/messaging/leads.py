"""Sales converted a lead: contacts registers the person (and the organization) it names.

The lead's details arrive sealed with the lead's key; the worker's keyring (fed by the key topic)
opens them, and the application seals them again with the new person's own key. A lead erased
before its conversion was read opens to nothing, and nothing is registered.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from eventsourcing.persistence import Tracking

from crm_events import Event
from crm_events.personal import Sealed
from crm_events.sales.leads import LeadConverted

from ..application import ContactsApplication, ConvertedLead

log = logging.getLogger(__name__)


class Unsealer(Protocol):
    def unseal_sync(self, sealed: Sealed | None) -> Any:
        """The plaintext; None for None or an erased subject; ``KeyNotYetKnown`` (transient,
        retried) while the key has not arrived."""


def register_converted_lead(
    application: ContactsApplication, event: Event[Any], position: Tracking, *, keyring: Unsealer
) -> None:
    """The reaction to an event on the lead topic: only conversions into a new person count."""
    data = event.data
    if not isinstance(data, LeadConverted) or not data.new_customer:
        return
    name = keyring.unseal_sync(data.name)
    if name is None:
        log.info("lead %s was erased before its conversion was read", data.lead_id)
        application.record_reaction(position)
        return
    lead = ConvertedLead(
        lead_id=data.lead_id,
        customer_id=data.customer_id,
        organization_id=data.organization_id,
        given_name=name.get("given_name"),
        family_name=name["family_name"],
        email=keyring.unseal_sync(data.email),
        phone=keyring.unseal_sync(data.phone),
        company=keyring.unseal_sync(data.company),
        title=keyring.unseal_sync(data.title),
    )
    if not application.register_converted_lead(position, lead):
        log.debug("conversion of lead %s at %s was processed already", data.lead_id, position)
