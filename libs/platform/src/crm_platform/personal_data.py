"""What domain code declares about personal data: pure, no I/O (crypto-shredding is ``privacy``).

A domain module marks the personal fields of its events, ``personal_data(Customer.Registered,
"given_name", "email")``, and may refuse a command with ``PersonalDataErased``; neither pulls in
the key stores, drivers or brokers that ``crm_platform.privacy`` uses to seal and open them.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from .errors import InvalidState

PERSONAL_FIELDS = "__personal_data__"

E = TypeVar("E", bound=type)


def personal_data(event_class: E, *fields: str) -> E:
    """Declare ``fields`` of ``event_class`` personal data of the event's originator."""
    if not fields:
        raise ValueError("name at least one personal field")
    existing = getattr(event_class, PERSONAL_FIELDS, ())
    setattr(event_class, PERSONAL_FIELDS, tuple(dict.fromkeys((*existing, *fields))))
    return event_class


def personal_fields(event_class: type) -> tuple[str, ...]:
    return tuple(getattr(event_class, PERSONAL_FIELDS, ()))


class PersonalDataErased(InvalidState):
    """Personal data was about to be recorded for a subject whose key was destroyed: the
    record's state refuses the command (an API answers 409, as for any invalid state)."""

    def __init__(self, subject: UUID) -> None:
        super().__init__(f"the personal data of {subject} was erased")
        self.subject = subject
