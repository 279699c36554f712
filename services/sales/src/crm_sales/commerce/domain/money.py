"""Money: an exact decimal amount in an ISO 4217 currency, never a binary float.

An amount always holds exactly the minor units of its currency (cents for EUR, none for JPY,
thousandths for KWD). Computations that create finer fractions (a quantity times a price, a
percentage) round half-even ("banker's rounding", which does not drift upwards over many lines)
back to the minor units. Amounts of different currencies never mix: adding or comparing them is a
``CurrencyMismatch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from crm_platform.values import MAX_AMOUNT, MINOR_UNITS

from ...shared.domain.errors import RuleViolation

# Enough digits for any product of a quantity and a price the domain accepts, so only the final
# rounding to minor units ever loses precision.
_PRECISION = 60


class MoneyError(ValueError):
    """An amount that cannot be money: see the subclasses."""


class UnknownCurrency(MoneyError):
    pass


class InexactAmount(MoneyError):
    """More decimal places than the currency has minor units (or not a finite number)."""


class CurrencyMismatch(MoneyError):
    pass


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code") from None


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        quantum = _quantum(self.currency)
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InexactAmount(f"{self.amount!r} is not a finite decimal amount")
        try:
            exact = self.amount.quantize(quantum)
        except InvalidOperation:
            raise InexactAmount(f"{self.amount} is too large an amount") from None
        if exact != self.amount:
            raise InexactAmount(
                f"{self.amount} has more decimal places than {self.currency} has minor units"
                f" ({minor_units(self.currency)})"
            )
        # One representation per value: 5 EUR is 5.00, and never -0.00.
        object.__setattr__(self, "amount", exact.copy_abs() if exact.is_zero() else exact)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def rounded(cls, amount: Decimal, currency: str) -> Money:
        """``amount`` rounded half-even to the currency's minor units."""
        with localcontext() as context:
            context.prec = _PRECISION
            return cls(amount.quantize(_quantum(currency), rounding=ROUND_HALF_EVEN), currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """The sum of ``amounts`` (zero when there are none), all in ``currency``."""
        total = cls.zero(currency)
        for amount in amounts:
            total += amount
        return total

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same_currency(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same_currency(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same_currency(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same_currency(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same_currency(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same_currency(other).amount

    def times(self, factor: Decimal) -> Money:
        """This amount multiplied by ``factor`` (a quantity), rounded half-even."""
        with localcontext() as context:
            context.prec = _PRECISION
            return Money.rounded(self.amount * factor, self.currency)

    def percent(self, rate: Decimal) -> Money:
        """``rate`` percent of this amount, rounded half-even."""
        with localcontext() as context:
            context.prec = _PRECISION
            return Money.rounded(self.amount * rate / 100, self.currency)

    def allocate(self, weights: Sequence[Decimal]) -> tuple[Money, ...]:
        """Split this amount in proportion to ``weights``; the parts add up to it exactly.

        Each part gets the minor units its share rounds down to; the units left over go one each
        to the parts with the largest remainders (ties to the earlier part), so no rounding error
        is created or lost ("largest remainder" method).
        """
        if self.amount < 0 or any(w < 0 for w in weights) or sum(weights, Decimal(0)) <= 0:
            raise ValueError("allocation needs a non-negative amount and positive total weight")
        quantum = _quantum(self.currency)
        units = int(self.amount / quantum)
        total_weight = sum(weights, Decimal(0))
        with localcontext() as context:
            context.prec = _PRECISION
            exact_shares = [units * w / total_weight for w in weights]
        shares = [int(s.to_integral_value(rounding=ROUND_DOWN)) for s in exact_shares]
        by_remainder = sorted(
            range(len(weights)), key=lambda i: (-(exact_shares[i] - shares[i]), i)
        )
        for i in by_remainder[: units - sum(shares)]:
            shares[i] += 1
        return tuple(Money(share * quantum, self.currency) for share in shares)

    @property
    def is_zero(self) -> bool:
        return self.amount.is_zero()

    def _same_currency(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def money(field: str, amount: Decimal, currency: str) -> Money:
    """Money from a command's input; the errors name ``field`` (``unit_price``)."""
    try:
        minor_units(currency)
    except UnknownCurrency as error:
        raise RuleViolation(f"{field}.currency", str(error)) from None
    if not amount.is_finite():
        raise RuleViolation(f"{field}.amount", "must be a number")
    if abs(amount) >= MAX_AMOUNT:
        raise RuleViolation(f"{field}.amount", f"must be less than {MAX_AMOUNT:,.0f}")
    try:
        return Money(amount, currency)
    except InexactAmount as error:
        raise RuleViolation(f"{field}.amount", str(error)) from None


def currency_code(field: str, currency: str) -> str:
    """A command's currency, checked against ISO 4217."""
    try:
        minor_units(currency)
    except UnknownCurrency as error:
        raise RuleViolation(field, str(error)) from None
    return currency


def in_currency(field: str, amount: Money, currency: str) -> Money:
    """``amount``, refused unless it is in ``currency`` (the document's)."""
    if amount.currency != currency:
        raise RuleViolation(
            f"{field}.currency", f"must be {currency}, the currency of the document"
        )
    return amount
