"""Opening a customer 360 document's sealed personal data for one answer.

The read model keeps personal data sealed with the person's key; it is opened here, per request,
with the analytics keyring. A destroyed key (an erased person) or one that has not arrived yet
opens to ``None``: the view shows what is known about the person without their personal data.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm_events.personal import Sealed, unseal
from crm_platform.privacy import KeyNotYetKnown, Keyring
from crm_platform.read_models import Document

from ..read_models.customer_360 import PROFILE_FIELDS

Opened = dict[str, Any]


class Opener:
    """Opens values sealed for one subject, looking its key up once."""

    def __init__(self, keyring: Keyring, subject: UUID) -> None:
        self.keyring = keyring
        self.subject = subject
        self._key: bytes | None = None
        self._looked_up = False

    async def open(self, sealed: Document | None) -> Any:
        if sealed is None:
            return None
        value = Sealed.model_validate(sealed)
        if value.kid != self.subject:
            return None  # never open another subject's data through this document
        if not self._looked_up:
            try:
                self._key = await self.keyring.key(self.subject)
            except KeyNotYetKnown:
                self._key = None
            self._looked_up = True
        return None if self._key is None else unseal(value, self._key)


async def open_profile(document: Document, opener: Opener) -> Opened | None:
    """The registered profile with every later change applied in order, opened."""
    profile = document.get("profile")
    if profile is None:
        return None
    opened = {name: await opener.open(profile.get(name)) for name in PROFILE_FIELDS}
    for change in document.get("profile_changes", []):
        values = await opener.open(change["changes"])
        if isinstance(values, dict):
            opened.update({name: values.get(name) for name in change["changed"]})
    return {
        **opened,
        "origin": profile.get("origin"),
        "lead_id": profile.get("lead_id"),
        "registered_at": profile["registered_at"],
    }


class Openers:
    """An :class:`Opener` per person, for a timeline that shows several: a survivor's and the
    duplicates merged into it."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._openers: dict[str, Opener] = {}

    def of(self, subject: str) -> Opener:
        if subject not in self._openers:
            self._openers[subject] = Opener(self.keyring, UUID(subject))
        return self._openers[subject]


async def open_entries(entries: list[Document], openers: Openers) -> list[Opened]:
    """Timeline entries with their sealed values opened with the key of the person each is about
    (values sealed for someone else, such as a lead before conversion, stay closed: ``None``)."""
    opened = []
    for entry in entries:
        opener = openers.of(entry["customer_id"])
        personal = {name: await opener.open(value) for name, value in entry["sealed"].items()}
        opened.append({**entry, "personal": personal})
    return opened


def current_consents(decisions: list[Document]) -> list[Opened]:
    """Per channel and purpose, the decision made last (decisions may arrive late)."""
    latest: dict[tuple[str, str], Document] = {}
    for decision in decisions:
        key = (decision["channel"], decision["purpose"])
        if key not in latest or decision["decided_at"] >= latest[key]["decided_at"]:
            latest[key] = decision
    return [latest[key] for key in sorted(latest)]
