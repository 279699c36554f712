"""What the application's commands and queries return: plain, immutable data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from ..domain import Customer, Interaction

T = TypeVar("T")


@dataclass(frozen=True)
class CustomerView:
    id: UUID
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    registered_at: datetime
    version: int
    interactions: tuple[Interaction, ...]

    @classmethod
    def of(cls, customer: Customer) -> CustomerView:
        return cls(
            id=customer.id,
            given_name=customer.given_name,
            family_name=customer.family_name,
            email=customer.email,
            phone=customer.phone,
            registered_at=customer.created_on,
            version=customer.version,
            interactions=tuple(customer.interactions.values()),
        )


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A command's result; ``replayed`` when a retry found the work already done."""

    value: T
    replayed: bool
