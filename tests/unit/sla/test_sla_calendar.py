"""Business-time arithmetic: lunch breaks, weekends, Chinese holidays and 调休, DST, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.sla.calendar import (
    Calendar,
    CalendarError,
    Holidays,
    Period,
    parse_duration,
    parse_periods,
    parse_week,
)
from tests.unit.sla.sla_helpers import sh

H = timedelta(hours=1)
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


# --- lunch break, nights, weekends ------------------------------------------------------------


def test_lunch_break_is_skipped(cn_business: Calendar) -> None:
    assert cn_business.add(sh(2026, 3, 2, 11, 30), H) == sh(2026, 3, 2, 13, 30)
    assert cn_business.elapsed(sh(2026, 3, 2, 11), sh(2026, 3, 2, 14)) == 2 * H


def test_start_outside_hours_waits_for_opening(cn_business: Calendar) -> None:
    assert cn_business.add(sh(2026, 3, 2, 7), H) == sh(2026, 3, 2, 10)
    assert cn_business.add(sh(2026, 3, 2, 12, 15), H) == sh(2026, 3, 2, 14)
    assert cn_business.add(sh(2026, 3, 2, 19), H) == sh(2026, 3, 3, 10)


def test_exact_fit_ends_at_closing_not_next_opening(cn_business: Calendar) -> None:
    assert cn_business.add(sh(2026, 3, 2, 17), H) == sh(2026, 3, 2, 18)
    assert cn_business.add(sh(2026, 3, 2, 11), H) == sh(2026, 3, 2, 12)


def test_weekend_is_skipped(cn_business: Calendar) -> None:
    assert cn_business.add(sh(2026, 3, 6, 17), 2 * H) == sh(2026, 3, 9, 10)
    assert cn_business.elapsed(sh(2026, 3, 6, 18), sh(2026, 3, 9, 9)) == timedelta(0)
    assert cn_business.elapsed(sh(2026, 3, 6, 17), sh(2026, 3, 9, 10)) == 2 * H


def test_one_business_day_is_same_time_next_working_day(cn_business: Calendar) -> None:
    assert cn_business.business_day == 8 * H
    assert cn_business.add(sh(2026, 3, 2, 17), cn_business.business_day) == sh(2026, 3, 3, 17)
    assert cn_business.add(sh(2026, 3, 6, 10), cn_business.business_day) == sh(2026, 3, 9, 10)


def test_elapsed_is_zero_when_end_not_after_start(cn_business: Calendar) -> None:
    assert cn_business.elapsed(sh(2026, 3, 2, 11), sh(2026, 3, 2, 10)) == timedelta(0)
    assert cn_business.elapsed(sh(2026, 3, 2, 11), sh(2026, 3, 2, 11)) == timedelta(0)


def test_zero_duration_returns_start_and_negative_is_refused(cn_business: Calendar) -> None:
    start = sh(2026, 3, 7, 3)
    assert cn_business.add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="negative"):
        cn_business.add(start, -H)


def test_saturday_hours() -> None:
    cal = Calendar(
        "shop",
        week=parse_week({"mon-fri": ["09:00-12:00", "13:00-18:00"], "sat": ["10:00-16:00"]}),
    )
    assert cal.add(sh(2026, 3, 6, 17), 3 * H) == sh(2026, 3, 7, 12)
    assert cal.add(sh(2026, 3, 7, 15), 2 * H) == sh(2026, 3, 9, 10)
    assert cal.elapsed(sh(2026, 3, 6, 0), sh(2026, 3, 9, 0)) == 14 * H


def test_results_are_utc(cn_business: Calendar) -> None:
    result = cn_business.add(sh(2026, 3, 2, 11), 90 * timedelta(minutes=1))
    assert result.tzinfo is UTC
    assert result == datetime(2026, 3, 2, 5, 30, tzinfo=UTC)  # 13:30 in Shanghai
    assert cn_business.add(sh(2026, 3, 7), timedelta(0)).tzinfo is UTC


# --- Chinese holidays and make-up working days (2026) ------------------------------------------


def test_spring_festival_2026_and_its_make_up_saturdays(cn_business: Calendar) -> None:
    # Sat 14 Feb is a make-up working day; 15-23 Feb is the holiday; Sat 28 Feb works again.
    assert cn_business.add(sh(2026, 2, 13, 17), 2 * H) == sh(2026, 2, 14, 10)
    assert cn_business.add(sh(2026, 2, 14, 17), 2 * H) == sh(2026, 2, 24, 10)
    assert cn_business.elapsed(sh(2026, 2, 14, 18), sh(2026, 2, 24, 9)) == timedelta(0)
    assert cn_business.add(sh(2026, 2, 27, 17, 30), H) == sh(2026, 2, 28, 9, 30)


def test_national_day_2026_and_its_make_up_days(cn_business: Calendar) -> None:
    # Sun 20 Sep and Sat 10 Oct are working days; 1-7 Oct is the holiday.
    assert cn_business.add(sh(2026, 9, 18, 18), H) == sh(2026, 9, 20, 10)
    assert cn_business.add(sh(2026, 9, 30, 17), 2 * H) == sh(2026, 10, 8, 10)
    assert cn_business.add(sh(2026, 10, 9, 17), 2 * H) == sh(2026, 10, 10, 10)
    assert cn_business.elapsed(sh(2026, 10, 1), sh(2026, 10, 8)) == timedelta(0)


def test_seven_business_days_across_mid_autumn(cn_business: Calendar) -> None:
    # Fri 18 Sep 10:00: 7h that day, Sun 20 (make-up) to Thu 24 = 40h, 25-27 off, Mon 28 8h.
    due = cn_business.add(sh(2026, 9, 18, 10), 7 * cn_business.business_day)
    assert due == sh(2026, 9, 29, 10)


def test_holiday_day_kinds() -> None:
    cn = Holidays.load("cn")
    assert cn.kind(date(2026, 10, 1)) == "holiday"
    assert cn.kind(date(2026, 10, 10)) == "makeup"
    assert cn.kind(date(2026, 10, 12)) == "regular"
    assert cn.knows(2004) and cn.knows(2026)


def test_unknown_year_falls_back_to_weekly_hours(cn_business: Calendar) -> None:
    assert not cn_business.knows_holidays(2027)
    assert cn_business.knows_holidays(2026)
    # 1 Jan 2027 is a Friday: without data it is an ordinary working day.
    assert cn_business.add(sh(2026, 12, 31, 17), 2 * H) == sh(2027, 1, 1, 10)
    assert Calendar("plain", week=parse_week({"mon": ["09:00-10:00"]})).knows_holidays(2099)


def _write(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "cn.yaml").write_text(text, encoding="utf-8")
    return path


def test_data_file_adds_a_year_and_replaces_a_known_one(tmp_path: Path) -> None:
    folder = _write(
        tmp_path,
        "years:\n"
        "  2027:\n"
        "    holidays: [2027-01-01, '2027-02-06..2027-02-12']\n"
        "    workdays: ['2027-02-20']\n"
        "  2026:\n"
        "    holidays: []\n",
    )
    cn = Holidays.load("cn", folder)
    assert cn.knows(2027)
    assert cn.kind(date(2027, 1, 1)) == "holiday"
    assert cn.kind(date(2027, 2, 9)) == "holiday"
    assert cn.kind(date(2027, 2, 20)) == "makeup"
    assert cn.kind(date(2026, 10, 1)) == "regular"  # the whole year was replaced
    assert cn.kind(date(2025, 10, 1)) == "holiday"  # other years untouched


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("years:\n  2027:\n    holidays: [2026-12-31]\n", "within 2027"),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-01]\n", "both"),
        ("years:\n  2027:\n    holidays: ['2027-13-01']\n", "not a date"),
        ("years:\n  2027:\n    holiday: []\n", "unknown key 'holiday'"),
        ("years:\n  2027:\n    holidays: 2027-01-01\n", "expected a list"),
        ("years: [2027]\n", "years: expected a mapping"),
        ("years: {2027: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_holiday_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        Holidays.load("cn", _write(tmp_path, text))


def test_region_without_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="no holiday data for region 'hk'"):
        Holidays.load("hk", tmp_path)


def test_the_shipped_holiday_file_loads() -> None:
    assert Holidays.load("cn").region == "cn"


# --- daylight saving --------------------------------------------------------------------------


def test_london_business_hours_across_spring_forward() -> None:
    cal = Calendar("uk", timezone="Europe/London", week=parse_week({"mon-fri": ["09:00-17:00"]}))
    start = datetime(2026, 3, 27, 16, tzinfo=LONDON)  # Friday, GMT
    due = cal.add(start, 2 * H)
    assert due == datetime(2026, 3, 30, 10, tzinfo=LONDON)  # Monday, BST
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)
    assert cal.elapsed(start, due) == 2 * H


def test_a_full_day_lasts_23_or_25_real_hours_across_dst() -> None:
    london = Calendar("uk", timezone="Europe/London", week=parse_week({"mon-sun": ["00:00-24:00"]}))
    spring = datetime(2026, 3, 29, tzinfo=LONDON)
    assert london.elapsed(spring, datetime(2026, 3, 30, tzinfo=LONDON)) == 23 * H
    assert london.add(spring, 23 * H) == datetime(2026, 3, 30, tzinfo=LONDON)
    assert london.add(spring, 2 * H) == datetime(2026, 3, 29, 3, tzinfo=LONDON)
    ny = Calendar("ny", timezone="America/New_York", week=parse_week({"mon-sun": ["00:00-24:00"]}))
    autumn = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert ny.elapsed(autumn, datetime(2026, 11, 2, tzinfo=NEW_YORK)) == 25 * H
    assert ny.add(autumn, 24 * H) == datetime(2026, 11, 1, 23, tzinfo=NEW_YORK)
    # 01:30 happens twice; the result is UTC, so it is never ambiguous.
    assert ny.add(autumn, 2.5 * H) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_night_shift_counts_real_time_over_the_dst_change() -> None:
    ny = Calendar("ny", timezone="America/New_York", week=parse_week({"sun": ["00:00-04:00"]}))
    fall = ny.elapsed(
        datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime(2026, 11, 2, tzinfo=NEW_YORK)
    )
    assert fall == 5 * H  # 01:00-02:00 happens twice
    spring = ny.elapsed(
        datetime(2026, 3, 8, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK)
    )
    assert spring == 3 * H  # 02:00-03:00 never happens


def test_ambiguous_start_is_taken_as_given() -> None:
    ny = Calendar("ny", timezone="America/New_York", week=parse_week({"mon-sun": ["00:00-24:00"]}))
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=0)  # EDT
    second = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1)  # EST, an hour later
    end = datetime(2026, 11, 1, 3, tzinfo=NEW_YORK)
    assert ny.elapsed(first, end) == timedelta(hours=2, minutes=30)
    assert ny.elapsed(second, end) == timedelta(hours=1, minutes=30)


# --- 24x7, is_open, efficiency ----------------------------------------------------------------


def test_always_open_is_plain_arithmetic() -> None:
    cal = Calendar.always()
    start = sh(2026, 10, 1, 23, 50)
    assert cal.add(start, timedelta(minutes=15)) == sh(2026, 10, 2, 0, 5)
    assert cal.elapsed(start, sh(2026, 10, 3)) == timedelta(hours=24, minutes=10)
    assert cal.is_open(start)
    with pytest.raises(CalendarError, match="business calendar"):
        cal.resolve(1, timedelta(0))


def test_is_open(cn_business: Calendar) -> None:
    assert cn_business.is_open(sh(2026, 3, 2, 9))
    assert not cn_business.is_open(sh(2026, 3, 2, 12))
    assert not cn_business.is_open(sh(2026, 3, 2, 18))
    assert not cn_business.is_open(sh(2026, 10, 5, 10))  # National Day
    assert cn_business.is_open(sh(2026, 10, 10, 10))  # make-up Saturday
    assert cn_business.intervals(date(2026, 10, 1)) == ()


class CountingCalendar(Calendar):
    calls = 0

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        self.calls += 1
        return super().intervals(day)


def test_work_grows_with_days_spanned_not_with_duration_units() -> None:
    cal = CountingCalendar("c", week=parse_week({"mon-fri": ["09:00-12:00", "13:00-18:00"]}))
    start = sh(2026, 3, 2, 9)
    due = cal.add(start, 1000 * H)  # 125 business days
    days = (due.date() - start.date()).days + 1
    assert cal.calls == days
    cal.calls = 0
    assert cal.elapsed(start, due) == 1000 * H
    assert cal.calls == days


def test_a_calendar_closed_for_ever_stops_instead_of_spinning(tmp_path: Path) -> None:
    text = "years:\n" + "".join(
        f"  {y}:\n    holidays: ['{y}-01-01..{y}-12-31']\n" for y in (2030, 2031)
    )
    closed = Holidays.load("cn", _write(tmp_path, text))
    cal = Calendar("closed", week=parse_week({"mon-fri": ["09:00-18:00"]}), holidays=closed)
    with pytest.raises(CalendarError, match="no open hours"):
        cal.add(sh(2030, 1, 1), H)


# --- input checks -----------------------------------------------------------------------------


def test_naive_datetimes_are_refused(cn_business: Calendar) -> None:
    naive = datetime(2026, 3, 2, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        cn_business.add(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        cn_business.elapsed(naive, sh(2026, 3, 3))
    with pytest.raises(ValueError, match="timezone-aware"):
        cn_business.elapsed(sh(2026, 3, 1), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        cn_business.is_open(naive)


def test_period_parsing() -> None:
    assert Period.parse("09:00-12:30") == Period(9 * 3600, 12 * 3600 + 1800)
    assert Period.parse("18:00-24:00").end == 86_400
    for bad in ("9-5", "12:00-09:00", "10:00-10:00", "25:00-26:00", "10:60-11:00", "00:00-24:01"):
        with pytest.raises(CalendarError):
            Period.parse(bad)


def test_week_parsing() -> None:
    week = parse_week({"mon-wed, fri": ["09:00-12:00"], "sat": []})
    assert sorted(week) == [0, 1, 2, 4, 5]
    assert week[5] == ()
    with pytest.raises(CalendarError, match=r"hours\.mon-fri: periods overlap"):
        parse_week({"mon-fri": ["09:00-12:00", "11:00-13:00"]})
    with pytest.raises(CalendarError, match="given twice"):
        parse_week({"mon-fri": ["09:00-12:00"], "fri": ["13:00-14:00"]})
    with pytest.raises(CalendarError, match="unknown day"):
        parse_week({"monday": ["09:00-12:00"]})
    with pytest.raises(CalendarError, match="backwards"):
        parse_week({"fri-mon": ["09:00-12:00"]})
    with pytest.raises(CalendarError, match="expected a list"):
        parse_periods(780, "hours.mon")  # unquoted 13:00 reads as a YAML integer
    with pytest.raises(CalendarError, match="never open"):
        Calendar("x", week=parse_week({"mon-sun": []}))
    with pytest.raises(CalendarError, match="unknown time zone"):
        Calendar("x", timezone="Mars/Olympus", week=parse_week({"mon": ["09:00-10:00"]}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", (0, timedelta(minutes=15))),
        ("1h30m", (0, timedelta(minutes=90))),
        ("48h", (0, timedelta(hours=48))),
        ("2d", (0, timedelta(days=2))),
        ("7bd", (7, timedelta(0))),
        ("1bd 4h", (1, timedelta(hours=4))),
        ("90s", (0, timedelta(seconds=90))),
    ],
)
def test_duration_parsing(text: str, expected: tuple[int, timedelta]) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "15", "15 minutes", "h", "-5m", "1.5h", 15, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(CalendarError, match="duration"):
        parse_duration(bad)


def test_makeup_day_hours_and_business_day_can_be_set() -> None:
    cal = Calendar(
        "c",
        week=parse_week({"mon-fri": ["09:00-17:00"]}),
        holidays=Holidays.load("cn"),
        makeup_day=parse_periods(["10:00-12:00"], "makeup_day"),
        business_day=6 * H,
    )
    assert cal.business_day == 6 * H
    assert cal.resolve(2, H) == 13 * H
    assert cal.add(sh(2026, 10, 9, 16), 2 * H) == sh(2026, 10, 10, 11)
