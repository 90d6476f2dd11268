"""Business-hours calendars: when an SLA clock ticks, and how much business time lies between.

A calendar is weekly wall-clock periods in a time zone, minus public holidays, plus the make-up
working days (调休) of Chinese holiday schedules. Arithmetic works on UTC instants built from the
local periods of each day, so it costs O(days spanned) and a daylight-saving day counts the real
time that passed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

HOLIDAYS_DIR = Path(__file__).with_name("holidays")
DEFAULT_TIMEZONE = "Asia/Shanghai"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SECONDS = 86_400
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
# Closed this many days in a row means misconfigured, not on holiday: stop instead of spinning.
_MAX_CLOSED_DAYS = 400
_CACHE_DAYS = 20_000
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_DURATION = re.compile(r"(\d+)(bd|d|h|m|s)")
_UNITS = {"d": 86_400, "h": 3600, "m": 60, "s": 1}

DayKind = Literal["regular", "holiday", "makeup"]
Interval = tuple[datetime, datetime]


class CalendarError(ValueError):
    """Bad calendar or holiday data; the message names the offending key."""


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Naive datetimes are ambiguous across zones and DST, so every entry point refuses them."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value


def parse_duration(value: object) -> tuple[int, timedelta]:
    """'15m', '1h30m', '48h', '2d', '7bd' to (business days, plain time); 'd' is 24 hours."""
    text = value.replace(" ", "") if isinstance(value, str) else ""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CalendarError(
            f"expected a duration like '15m', '4h', '1h30m', '2d' or '7bd', got {value!r}"
        )
    business_days = sum(int(n) for n, unit in parts if unit == "bd")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in parts if unit != "bd")
    return business_days, timedelta(seconds=seconds)


class Period(NamedTuple):
    """Opening hours within one local day, as seconds after midnight; ``end`` may be 24:00."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise CalendarError(f"expected 'HH:MM-HH:MM' (quoted), got {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if m1 > 59 or m2 > 59 or h1 > 23 or end > _DAY_SECONDS or start >= end:
            raise CalendarError(f"{text!r} is not a period within one day (end after start)")
        return cls(start, end)


def _check_periods(periods: Sequence[Period], key: str) -> tuple[Period, ...]:
    ordered = tuple(sorted(periods))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise CalendarError(f"{key}: periods overlap")
    return ordered


def parse_periods(value: object, key: str) -> tuple[Period, ...]:
    """A list of 'HH:MM-HH:MM' strings; an empty list means closed that day."""
    if not isinstance(value, list):
        raise CalendarError(f"{key}: expected a list of 'HH:MM-HH:MM' strings")
    try:
        return _check_periods([Period.parse(item) for item in value], key)
    except CalendarError as exc:
        raise CalendarError(f"{key}: {exc}") from None


def _day_names(spec: str, key: str) -> list[int]:
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise CalendarError(f"{key}: unknown day {part!r} (use mon..sun, 'mon-fri', 'sat,sun')")
        lo, hi = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if hi < lo:
            raise CalendarError(f"{key}: day range {part!r} runs backwards")
        days.extend(range(lo, hi + 1))
    return days


def parse_week(spec: object, key: str = "hours") -> dict[int, tuple[Period, ...]]:
    """``{"mon-fri": ["09:00-12:00", "13:00-18:00"], "sat": [...]}`` to periods by weekday."""
    if not isinstance(spec, Mapping) or not spec:
        raise CalendarError(f"{key}: expected a mapping of days to periods")
    week: dict[int, tuple[Period, ...]] = {}
    for days, value in spec.items():
        sub = f"{key}.{days}"
        for day in _day_names(str(days), sub):
            if day in week:
                raise CalendarError(f"{sub}: {WEEKDAYS[day]} is given twice")
            week[day] = parse_periods(value, sub)
    return week


@dataclass(frozen=True)
class Holidays:
    """Days off and make-up working days of one region, and which years that data covers."""

    region: str
    days_off: frozenset[date]
    makeup_days: frozenset[date]
    years: frozenset[int]

    def kind(self, day: date) -> DayKind:
        if day in self.makeup_days:
            return "makeup"
        return "holiday" if day in self.days_off else "regular"

    def knows(self, year: int) -> bool:
        """False: the year falls back to plain weekly hours (its holidays are not published yet)."""
        return year in self.years

    @classmethod
    def load(cls, region: str, directory: Path = HOLIDAYS_DIR) -> Holidays:
        """``cn`` starts from chinesecalendar; ``<region>.yaml`` replaces or adds whole years."""
        by_year = _library_years() if region == "cn" else {}
        path = directory / f"{region}.yaml"
        if path.exists():
            by_year.update(_read_holiday_file(path))
        elif region != "cn":
            raise CalendarError(f"no holiday data for region {region!r} ({path})")
        off = frozenset(d for days, _ in by_year.values() for d in days)
        makeup = frozenset(d for _, days in by_year.values() for d in days)
        return cls(region, off, makeup, frozenset(by_year))


YearData = dict[int, tuple[set[date], set[date]]]


def _library_years() -> YearData:
    import chinese_calendar

    by_year: YearData = {}
    for slot, table in enumerate((chinese_calendar.holidays, chinese_calendar.workdays)):
        for day in table:
            by_year.setdefault(day.year, (set(), set()))[slot].add(day)
    return by_year


def _dates(value: object, year: int, key: str) -> set[date]:
    if not isinstance(value, list):
        raise CalendarError(f"{key}: expected a list of dates or 'YYYY-MM-DD..YYYY-MM-DD' ranges")
    out: set[date] = set()
    for item in value:
        try:
            if isinstance(item, date):
                first = last = item
            else:
                lo, _, hi = str(item).partition("..")
                first = date.fromisoformat(lo.strip())
                last = date.fromisoformat(hi.strip()) if hi else first
        except ValueError:
            raise CalendarError(f"{key}: {item!r} is not a date or date range") from None
        if first.year != year or last.year != year or last < first:
            raise CalendarError(f"{key}: {item!r} must lie within {year}, in order")
        out.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return out


def _read_holiday_file(path: Path) -> YearData:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: not valid YAML: {exc}") from None
    years = (raw.get("years") if isinstance(raw, dict) else None) or {}
    if not isinstance(years, dict):
        raise CalendarError(f"{path}: years: expected a mapping of year to holidays/workdays")
    out: YearData = {}
    for year, entry in years.items():
        key = f"{path.name}: years.{year}"
        if not isinstance(year, int) or not isinstance(entry, dict):
            raise CalendarError(f"{key}: expected `YYYY: {{holidays: [...], workdays: [...]}}`")
        unknown = set(entry) - {"holidays", "workdays"}
        if unknown:
            raise CalendarError(f"{key}: unknown key {sorted(unknown)[0]!r}")
        off = _dates(entry.get("holidays", []), year, f"{key}.holidays")
        on = _dates(entry.get("workdays", []), year, f"{key}.workdays")
        if off & on:
            raise CalendarError(f"{key}: {min(off & on)} is both a holiday and a workday")
        out[year] = (off, on)
    return out


class Calendar:
    """When business time passes. ``week=None`` is the always-open (24x7) calendar."""

    def __init__(
        self,
        name: str,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        week: Mapping[int, Sequence[Period]] | None = None,
        holidays: Holidays | None = None,
        makeup_day: Sequence[Period] | None = None,
        business_day: timedelta | None = None,
    ) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"timezone: unknown time zone {timezone!r}") from None
        self.name = name
        self.holidays = holidays
        self.always_open = week is None
        self._week = {d: _check_periods(p, f"hours.{WEEKDAYS[d]}") for d, p in (week or {}).items()}
        if not self.always_open and not any(self._week.values()):
            raise CalendarError("hours: the calendar is never open")
        first_open = next((self._week[d] for d in range(7) if self._week.get(d)), ())
        self._makeup = _check_periods(makeup_day, "makeup_day") if makeup_day else first_open
        standard = sum(p.end - p.start for p in self._makeup) if week else _DAY_SECONDS
        self.business_day = business_day or timedelta(seconds=standard)
        self._days: dict[date, tuple[Interval, ...]] = {}

    @classmethod
    def always(cls, name: str = "24x7", timezone: str = DEFAULT_TIMEZONE) -> Calendar:
        return cls(name, timezone=timezone)

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, tz={self.tz.key}, always_open={self.always_open})"

    def resolve(self, business_days: int, plain: timedelta) -> timedelta:
        """A target written in business days becomes business time: N x this calendar's day."""
        if business_days and self.always_open:
            raise CalendarError(f"business days ('bd') need a business calendar, not {self.name!r}")
        return business_days * self.business_day + plain

    def knows_holidays(self, year: int) -> bool:
        """False when this calendar should know holidays for ``year`` but has no data for it."""
        return self.holidays is None or self.holidays.knows(year)

    def intervals(self, day: date) -> tuple[Interval, ...]:
        """Open intervals of one local day as UTC instants (empty on holidays and closed days)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        kind = self.holidays.kind(day) if self.holidays else "regular"
        if self.always_open:
            periods: Sequence[Period] = (Period(0, _DAY_SECONDS),)
        elif kind == "holiday":
            periods = ()
        else:
            periods = self._makeup if kind == "makeup" else self._week.get(day.weekday(), ())
        out = tuple(
            (start, end)
            for start, end in (
                (self._instant(day, p.start), self._instant(day, p.end)) for p in periods
            )
            if end > start
        )
        if len(self._days) >= _CACHE_DAYS:
            self._days.clear()
        self._days[day] = out
        return out

    def _instant(self, day: date, seconds: int) -> datetime:
        if seconds == _DAY_SECONDS:
            day, seconds = day + _ONE_DAY, 0
        clock = time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)

    def _local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def is_open(self, at: datetime) -> bool:
        at = require_aware(at, "at").astimezone(UTC)
        return any(a <= at < b for a, b in self.intervals(self._local_day(at)))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """When ``duration`` of business time has passed after ``start``, in UTC.

        UTC because an aware result in a DST zone can be ambiguous, and such datetimes never
        compare equal to other zones (PEP 495).
        """
        require_aware(start, "start")
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        begin = start.astimezone(UTC)
        if self.always_open or duration == _ZERO:
            return begin + duration
        remaining, day, closed_days = duration, self._local_day(begin), 0
        while True:
            intervals = self.intervals(day)
            closed_days = 0 if intervals else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise CalendarError(f"calendar {self.name!r} has no open hours after {day}")
            for open_at, close_at in intervals:
                if close_at <= begin:
                    continue
                open_at = max(open_at, begin)
                available = close_at - open_at
                if remaining <= available:
                    return open_at + remaining
                remaining -= available
            day += _ONE_DAY

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when ``end`` is not after ``start``."""
        begin = require_aware(start, "start").astimezone(UTC)
        finish = require_aware(end, "end").astimezone(UTC)
        if finish <= begin:
            return _ZERO
        if self.always_open:
            return finish - begin
        total, day, last = _ZERO, self._local_day(begin), self._local_day(finish)
        while day <= last:
            for open_at, close_at in self.intervals(day):
                lo, hi = max(open_at, begin), min(close_at, finish)
                if hi > lo:
                    total += hi - lo
            day += _ONE_DAY
        return total
