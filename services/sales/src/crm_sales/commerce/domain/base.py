"""What the commerce aggregates share: their refusals, and the checks of numeric and coded input."""

from __future__ import annotations

import re
from decimal import Decimal

from eventsourcing.domain import Aggregate

from ...shared.domain.errors import InvalidState, RuleViolation

MAX_QUANTITY = Decimal("1e9")
MAX_DECIMAL_PLACES = 4  # of quantities, percentages and tax rates
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")


class CommerceAggregate(Aggregate):
    """Subclasses declare ``id: UUID`` themselves: the library then accepts ids chosen by the
    caller (derived from idempotency keys). No annotations here: they would make the library
    process this base as a dataclass."""

    # Names the aggregate in errors and problem details: "quote", "invoice"...
    KIND = "record"

    def refusal(self, detail: str) -> InvalidState:
        """The error for a command this aggregate's state does not allow (409)."""
        return InvalidState(self.KIND, self.id, detail)


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def quantity(field: str, value: Decimal) -> Decimal:
    """A quantity of units: more than zero, at most a billion, at most 4 decimal places."""
    if not value.is_finite() or value <= 0:
        raise RuleViolation(field, "must be greater than zero")
    if value > MAX_QUANTITY:
        raise RuleViolation(field, f"must be at most {MAX_QUANTITY:,.0f}")
    if decimal_places(value) > MAX_DECIMAL_PLACES:
        raise RuleViolation(field, f"must have at most {MAX_DECIMAL_PLACES} decimal places")
    return value


def percentage(field: str, value: Decimal) -> Decimal:
    """A percentage from 0 to 100 with at most 4 decimal places (8.875 % is a real tax rate)."""
    if not value.is_finite() or not 0 <= value <= 100:
        raise RuleViolation(field, "must be from 0 to 100 (percent)")
    if decimal_places(value) > MAX_DECIMAL_PLACES:
        raise RuleViolation(field, f"must have at most {MAX_DECIMAL_PLACES} decimal places")
    return value


def code(field: str, raw: str) -> str:
    """A lower-case code such as a unit (``hour``) or a tax category (``standard``)."""
    value = raw.strip().lower()
    if not _CODE.fullmatch(value):
        raise RuleViolation(field, "must be 1 to 50 of a-z, 0-9, '_' and '-'")
    return value


def at(prefix: str, name: str) -> str:
    """The dotted name of input ``name`` inside ``prefix`` (``lines.0`` + ``quantity``)."""
    return f"{prefix}.{name}" if prefix else name
