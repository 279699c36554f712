"""The weighted sales forecast: what each owner is expected to close, per period and currency.

Open opportunities count in the period of their expected close date, weighted by their
probability (amount x probability / 100); won ones count in full in the period they were won.
Lost ones do not count. Amounts in different currencies are never added together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class DealStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class Deal:
    """What the forecast needs of an opportunity."""

    owner: str
    currency: str
    amount: Decimal
    probability: int
    status: DealStatus
    expected_close_date: date
    closed_on: date | None = None

    @property
    def forecast_date(self) -> date:
        return self.closed_on if self.closed_on is not None else self.expected_close_date


@dataclass(frozen=True)
class Period:
    label: str  # "2025-Q1", "2025-03"
    starts_on: date
    ends_on: date

    @classmethod
    def of(cls, day: date, kind: PeriodKind) -> Period:
        if kind is PeriodKind.MONTH:
            first, months, label = day.replace(day=1), 1, f"{day.year}-{day.month:02d}"
        else:
            quarter = (day.month - 1) // 3
            first, months = date(day.year, quarter * 3 + 1, 1), 3
            label = f"{day.year}-Q{quarter + 1}"
        following = _add_months(first, months)
        return cls(label, first, following - timedelta(days=1))


def _add_months(first: date, months: int) -> date:
    month = first.month - 1 + months
    return date(first.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class ForecastLine:
    period: Period
    owner: str
    currency: str
    open_count: int = 0
    open_amount: Decimal = Decimal(0)
    weighted_amount: Decimal = Decimal(0)
    won_count: int = 0
    won_amount: Decimal = Decimal(0)

    @property
    def forecast_amount(self) -> Decimal:
        """Won so far plus the weighted open pipeline: the expected revenue of the period."""
        return self.won_amount + self.weighted_amount

    @classmethod
    def of_deal(cls, period: Period, deal: Deal) -> ForecastLine:
        line = cls(period, deal.owner, deal.currency)
        if deal.status is DealStatus.WON:
            return replace(line, won_count=1, won_amount=deal.amount)
        weighted = deal.amount * deal.probability / 100
        return replace(line, open_count=1, open_amount=deal.amount, weighted_amount=weighted)

    def plus(self, other: ForecastLine) -> ForecastLine:
        return replace(
            self,
            open_count=self.open_count + other.open_count,
            open_amount=self.open_amount + other.open_amount,
            weighted_amount=self.weighted_amount + other.weighted_amount,
            won_count=self.won_count + other.won_count,
            won_amount=self.won_amount + other.won_amount,
        )


def forecast(
    deals: Iterable[Deal],
    *,
    period: PeriodKind,
    owner: str | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> list[ForecastLine]:
    """One line per period, owner and currency, in that order; lost deals are left out."""
    lines: dict[tuple[date, str, str], ForecastLine] = {}
    for deal in deals:
        day = deal.forecast_date
        if deal.status is DealStatus.LOST or (owner is not None and deal.owner != owner):
            continue
        if (starts_on and day < starts_on) or (ends_on and day > ends_on):
            continue
        line = ForecastLine.of_deal(Period.of(day, period), deal)
        key = (line.period.starts_on, deal.owner, deal.currency)
        lines[key] = lines[key].plus(line) if key in lines else line
    return [lines[key] for key in sorted(lines)]


def totals(lines: Iterable[ForecastLine]) -> list[ForecastLine]:
    """The lines summed over owners (owner ``"*"``): the team's forecast per period and currency."""
    summed: dict[tuple[date, str], ForecastLine] = {}
    for line in lines:
        team_line = replace(line, owner="*")
        key = (line.period.starts_on, line.currency)
        summed[key] = summed[key].plus(team_line) if key in summed else team_line
    return [summed[key] for key in sorted(summed)]
