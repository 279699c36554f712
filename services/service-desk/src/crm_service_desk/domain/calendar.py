"""Business time: the working hours of a support team, in its time zone, without its holidays.

SLA targets count only working time ("4 business hours"). Instants are timezone-aware; working
hours are wall-clock times of the calendar's zone, so a target keeps meaning "by 17:00 local"
across daylight-saving changes. All arithmetic is on ``timedelta`` (integer microseconds), so
sums are exact: business time is additive over adjacent spans and ``add`` inverts ``between``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import RuleViolation

ZERO = timedelta(0)
# A target is reached within this many calendar days, or the calendar is unusable (for example
# nothing but holidays for years): a bound instead of an endless walk.
HORIZON_DAYS = 3 * 366
END_OF_DAY = "24:00"


@dataclass(frozen=True)
class WorkingCalendar:
    time_zone: str
    # Monday is 0, as date.weekday(); each day's intervals are sorted and do not overlap.
    hours: tuple[tuple[tuple[time, time], ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RuleViolation("time_zone", f"unknown time zone {self.time_zone!r}") from None
        if len(self.hours) != 7:
            raise RuleViolation("hours", "give the working hours of all seven weekdays")
        for weekday, intervals in enumerate(self.hours):
            previous_end = time.min
            for start, end in intervals:
                if not start < end or start < previous_end:
                    raise RuleViolation(
                        f"hours.{weekday}", "intervals must be increasing and must not overlap"
                    )
                previous_end = end
        if not any(self.hours):
            raise RuleViolation("hours", "at least one day needs working hours")

    @classmethod
    def weekdays(
        cls,
        time_zone: str,
        start: time = time(9),
        end: time = time(17),
        holidays: Sequence[date] = (),
    ) -> WorkingCalendar:
        """Monday to Friday, ``start`` to ``end``."""
        day = ((start, end),)
        return cls(time_zone, (day,) * 5 + ((), ()), frozenset(holidays))

    # --- the JSON form kept in events ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_zone": self.time_zone,
            "hours": [[[_format(s), _format(e)] for s, e in day] for day in self.hours],
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        try:
            hours = tuple(tuple((_parse(s), _parse(e)) for s, e in day) for day in data["hours"])
            holidays = frozenset(date.fromisoformat(d) for d in data.get("holidays", ()))
        except (KeyError, TypeError, ValueError) as error:
            raise RuleViolation("calendar", f"not a working calendar: {error}") from None
        return cls(str(data.get("time_zone", "")), hours, holidays)

    # --- business time ------------------------------------------------------------------------

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from ``start`` to ``end`` (zero when ``end`` is not after ``start``)."""
        total = ZERO
        start, end = _utc(start), _utc(end)
        if end <= start:
            return total
        for open_at, close_at in self._periods(start):
            if open_at >= end:
                break
            total += min(close_at, end) - max(open_at, start)
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed since ``start``.

        For a positive duration the result is inside working hours (at most at a period's end),
        never in the closed time after it: "due at 17:00 Friday", not "due Monday 09:00"."""
        if duration < ZERO:
            raise ValueError("a business duration is never negative")
        remaining, start = duration, _utc(start)
        if remaining == ZERO:
            return start
        for open_at, close_at in self._periods(start):
            begin = max(open_at, start)
            if close_at - begin >= remaining:
                return begin + remaining
            remaining -= close_at - begin
        raise RuleViolation("calendar", f"no working time within {HORIZON_DAYS} days")

    def _periods(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working periods that end after ``start``, in order, as aware instants."""
        zone = ZoneInfo(self.time_zone)
        day = start.astimezone(zone).date()
        for _ in range(HORIZON_DAYS):
            if day not in self.holidays:
                for open_time, close_time in self.hours[day.weekday()]:
                    # In UTC: arithmetic on instants sharing a zone would be wall-clock arithmetic.
                    open_at = datetime.combine(day, open_time, zone).astimezone(UTC)
                    close_at = datetime.combine(day, close_time, zone).astimezone(UTC)
                    if close_at > start and close_at > open_at:
                        yield open_at, close_at
            day += timedelta(days=1)


def _parse(text: str) -> time:
    """``HH:MM``; ``24:00`` is the end of the day (a day's last working instant)."""
    return time.max if text == END_OF_DAY else time.fromisoformat(text)


def _format(moment: time) -> str:
    return END_OF_DAY if moment == time.max else moment.isoformat("minutes")


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("business time needs timezone-aware instants")
    return instant.astimezone(UTC)
