"""Properties: business-time arithmetic is consistent; clocks ignore order and duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla.calendar import Calendar, Holidays, parse_week
from services.sla.clocks import ClockEvent, TicketClocks
from services.sla.ladder import escalation_steps
from services.sla.policy import Policy, TicketFacts, load_policy

CN = Calendar(
    "cn",
    week=parse_week({"mon-fri": ["09:00-12:00", "13:00-18:00"]}),
    holidays=Holidays.load("cn"),
)
LONDON = Calendar(
    "uk",
    timezone="Europe/London",
    week=parse_week({"mon-fri": ["08:30-12:00", "13:00-17:30"], "sat": ["00:30-02:30"]}),
)
NIGHTS = Calendar(
    "ny", timezone="America/New_York", week=parse_week({"sun": ["00:00-04:00", "22:00-24:00"]})
)
ALWAYS = Calendar.always()
POLICY: Policy = load_policy()

zones = st.sampled_from([UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")])
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=zones
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
calendars = st.sampled_from([CN, LONDON, NIGHTS, ALWAYS])
relaxed = settings(deadline=None, max_examples=150)


@relaxed
@given(calendars, instants, durations)
def test_elapsed_undoes_add(cal: Calendar, start: datetime, d: timedelta) -> None:
    assert cal.elapsed(start, cal.add(start, d)) == d


@relaxed
@given(calendars, instants, durations, durations)
def test_add_is_monotonic(cal: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    low, high = sorted((a, b))
    assert start <= cal.add(start, low) <= cal.add(start, high)


@relaxed
@given(calendars, instants, durations, durations)
def test_add_composes(cal: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@relaxed
@given(calendars, instants, durations, durations)
def test_elapsed_is_additive_and_bounded(
    cal: Calendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    start = start.astimezone(UTC)  # real time, not wall-clock arithmetic in one zone
    middle, end = start + a, start + a + b
    total = cal.elapsed(start, end)
    assert total == cal.elapsed(start, middle) + cal.elapsed(middle, end)
    assert timedelta(0) <= total <= end - start


@relaxed
@given(instants, durations)
def test_always_open_is_real_elapsed_time(start: datetime, d: timedelta) -> None:
    # Not ``start + d``: aware arithmetic in one zone is wall-clock time and skips DST changes.
    assert ALWAYS.add(start, d) == start.astimezone(UTC) + d


KINDS = ["customer_message", "first_response", "waiting_on_customer", "resolved", "reopened"]
T0 = datetime(2026, 3, 6, 8, tzinfo=UTC)  # Friday 16:00 in Shanghai
events = st.lists(
    st.builds(
        lambda i, kind, minutes: ClockEvent(f"e{i}", kind, T0 + timedelta(minutes=minutes)),
        st.integers(0, 30),
        st.sampled_from(KINDS),
        st.integers(-10, 5000),
    ),
    max_size=12,
)
facts = st.sampled_from(
    [
        TicketFacts("P1", "chat", "security"),
        TicketFacts("P3", "email", "general"),
        TicketFacts("P2", "social", "refunds", visibility="public"),
    ]
)


@relaxed
@given(events, st.randoms(use_true_random=False), facts, st.integers(0, 6000))
def test_clocks_ignore_order_and_duplicates(
    evs: list[ClockEvent], rng: object, f: TicketFacts, now_minutes: int
) -> None:
    created = ClockEvent("created", "created", T0)
    now = T0 + timedelta(minutes=now_minutes)
    reference = TicketClocks([created, *evs])
    shuffled = [created, *evs, *evs[: len(evs) // 2]]
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    again = TicketClocks(shuffled)
    assert again.views(POLICY, f, now) == reference.views(POLICY, f, now)
    assert again.events == reference.events


@relaxed
@given(events, facts, st.integers(0, 6000))
def test_views_and_steps_are_consistent(evs: list[ClockEvent], f: TicketFacts, m: int) -> None:
    now = T0 + timedelta(minutes=m)
    for view in (
        TicketClocks([ClockEvent("created", "created", T0), *evs]).views(POLICY, f, now).values()
    ):
        assert view.business_elapsed >= timedelta(0)
        if view.state == "paused":
            assert view.status == "breached" or view.due_at is None
        if view.state == "running":
            assert view.due_at is not None
            assert (view.status == "breached") == (view.due_at <= now)
        steps = escalation_steps(view, POLICY)
        assert [s.level for s in steps] == sorted(s.level for s in steps)
        assert [s.fire_at for s in steps] == sorted(s.fire_at for s in steps)
        breached_steps = [s for s in steps if s.kind == "breached" and s.fire_at <= now]
        if breached_steps:
            assert view.status == "breached"
        if view.state == "stopped":
            assert all(s.fire_at < (view.stopped_at or now) for s in steps)
