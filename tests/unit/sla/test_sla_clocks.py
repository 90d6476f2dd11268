"""Clock rules: start, stop, pause/resume, next response cycles, reopen, idempotency, order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.sla.clocks import (
    ClockEvent,
    ClockView,
    TicketClocks,
    event_from_lifecycle,
    events_from_routed,
)
from services.sla.policy import Policy, TargetName, TicketFacts
from shared.models import TicketLifecycle, TicketRouted
from tests.unit.sla.sla_helpers import sh

M, H = timedelta(minutes=1), timedelta(hours=1)
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
P1_CHAT = TicketFacts("P1", "chat", "security")  # 15m / 15m / 24h, all 24x7
P3_EMAIL = TicketFacts("P3", "email", "general")  # 1bd / 1bd / 3bd on business hours


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(kind: str, minutes: float, event_id: str | None = None) -> ClockEvent:
    return ClockEvent(event_id or f"{kind}@{minutes}", kind, at(minutes))  # type: ignore[arg-type]


def clocks(*events: ClockEvent) -> TicketClocks:
    return TicketClocks([ClockEvent("created", "created", T0), *events])


def view(
    c: TicketClocks,
    policy: Policy,
    name: TargetName,
    now: float,
    facts: TicketFacts = P1_CHAT,
) -> ClockView:
    return c.views(policy, facts, at(now))[name]


# --- first response ---------------------------------------------------------------------------


def test_a_new_ticket_runs_first_response_and_resolution(policy: Policy) -> None:
    c = clocks()
    fr = view(c, policy, "first_response", 5)
    assert (fr.state, fr.status, fr.started_at) == ("running", "on_track", T0)
    assert (fr.due_at, fr.at_risk_at, fr.stopped_at) == (at(15), at(12), None)
    assert fr.business_elapsed == 5 * M and fr.remaining == 10 * M
    assert (fr.target_duration, fr.calendar, fr.rule, fr.cycle) == (15 * M, "24x7", "p1", 1)
    assert view(c, policy, "resolution", 5).due_at == at(24 * 60)
    nr = view(c, policy, "next_response", 5)
    assert (nr.state, nr.status, nr.due_at, nr.cycle) == ("idle", "on_track", None, 0)
    assert c.status == "open"


@pytest.mark.parametrize(
    ("now", "status"), [(11.9, "on_track"), (12, "at_risk"), (14.9, "at_risk"), (15, "breached")]
)
def test_running_status_follows_the_clock(policy: Policy, now: float, status: str) -> None:
    assert view(clocks(), policy, "first_response", now).status == status


@pytest.mark.parametrize(("answered", "status"), [(10, "met"), (15, "met"), (16, "breached")])
def test_first_response_stops_on_the_first_agent_response(
    policy: Policy, answered: float, status: str
) -> None:
    c = clocks(ev("first_response", answered))
    fr = view(c, policy, "first_response", 60)
    assert (fr.state, fr.status, fr.stopped_at) == ("stopped", status, at(answered))
    assert fr.business_elapsed == answered * M
    assert fr.due_at == at(15)


def test_waiting_on_customer_does_not_pause_first_response(policy: Policy) -> None:
    c = clocks(ev("waiting_on_customer", 1))
    fr = view(c, policy, "first_response", 20)
    assert (fr.state, fr.status) == ("running", "breached")


def test_business_hours_first_response(policy: Policy) -> None:
    c = TicketClocks([ClockEvent("created", "created", sh(2026, 3, 6, 17))])  # Friday
    fr = c.views(policy, P3_EMAIL, sh(2026, 3, 7, 12))["first_response"]
    assert fr.due_at == sh(2026, 3, 9, 17)  # Monday, one business day later
    assert fr.at_risk_at == sh(2026, 3, 9, 15, 24)  # 6h24m: 1h Fri, 3h + 2h24m Mon
    assert fr.business_elapsed == H
    assert fr.status == "on_track"


# --- pauses and resolution --------------------------------------------------------------------


def test_waiting_pauses_resolution_and_a_customer_reply_resumes_it(policy: Policy) -> None:
    c = clocks(ev("first_response", 5), ev("waiting_on_customer", 60))
    paused = view(c, policy, "resolution", 120)
    assert (paused.state, paused.due_at, paused.at_risk_at) == ("paused", None, None)
    assert paused.business_elapsed == H
    c.apply(ev("customer_message", 180))
    resumed = view(c, policy, "resolution", 240)
    assert resumed.state == "running"
    assert resumed.business_elapsed == 2 * H  # 10:00-11:00 and 13:00-14:00
    assert resumed.due_at == at(24 * 60 + 120)  # pushed back by the two paused hours
    assert resumed.runs == ((T0, at(60)), (at(180), None))


def test_paused_after_the_deadline_stays_breached(policy: Policy) -> None:
    c = clocks(ev("first_response", 5), ev("waiting_on_customer", 25 * 60))
    res = view(c, policy, "resolution", 30 * 60)
    assert (res.state, res.status, res.due_at) == ("paused", "breached", at(24 * 60))


def test_resolved_stops_everything(policy: Policy) -> None:
    c = clocks(ev("first_response", 5), ev("customer_message", 10), ev("resolved", 30))
    views = c.views(policy, P1_CHAT, at(60))
    assert {v.state for v in views.values()} == {"stopped"}
    assert views["resolution"].status == "met"
    assert views["next_response"].status == "breached"  # 20 minutes > 15
    assert c.status == "resolved"


def test_resolving_while_waiting_keeps_the_elapsed_time(policy: Policy) -> None:
    c = clocks(ev("first_response", 5), ev("waiting_on_customer", 60), ev("resolved", 600))
    res = view(c, policy, "resolution", 700)
    assert (res.state, res.stopped_at, res.business_elapsed) == ("stopped", at(600), H)
    assert res.due_at == at(60 + 23 * 60)  # the deadline it faced when it stopped ticking


def test_reopen_keeps_the_resolution_time_already_used(policy: Policy) -> None:
    c = clocks(ev("first_response", 5), ev("resolved", 60), ev("reopened", 600))
    res = view(c, policy, "resolution", 660)
    assert (res.state, res.cycle, res.business_elapsed) == ("running", 2, 2 * H)
    assert res.started_at == T0
    assert res.due_at == at(600 + 23 * 60)
    assert view(c, policy, "next_response", 660).state == "idle"
    assert c.status == "open"


def test_a_customer_message_on_a_resolved_ticket_reopens_it(policy: Policy) -> None:
    c = clocks(ev("first_response", 5), ev("resolved", 60), ev("customer_message", 600))
    res = view(c, policy, "resolution", 610)
    assert (res.state, res.cycle) == ("running", 2)
    nr = view(c, policy, "next_response", 610)
    assert (nr.state, nr.started_at, nr.due_at) == ("running", at(600), at(615))


def test_reopened_on_an_open_ticket_changes_nothing(policy: Policy) -> None:
    a = clocks(ev("first_response", 5)).views(policy, P1_CHAT, at(60))
    b = clocks(ev("first_response", 5), ev("reopened", 30)).views(policy, P1_CHAT, at(60))
    assert a == b


# --- next response ----------------------------------------------------------------------------


def test_customer_messages_before_the_first_response_do_not_start_next_response(
    policy: Policy,
) -> None:
    c = clocks(ev("customer_message", 2), ev("customer_message", 4))
    assert view(c, policy, "next_response", 10).state == "idle"
    assert view(c, policy, "first_response", 10).state == "running"


def test_next_response_cycles(policy: Policy) -> None:
    c = clocks(
        ev("first_response", 5),
        ev("customer_message", 30),
        ev("customer_message", 35),  # still the same unanswered stretch
        ev("first_response", 40),
        ev("customer_message", 100),
    )
    nr = view(c, policy, "next_response", 110)
    assert (nr.state, nr.cycle, nr.started_at, nr.due_at) == ("running", 2, at(100), at(115))
    c.apply(ev("first_response", 120))
    done = view(c, policy, "next_response", 130)
    assert (done.state, done.status, done.business_elapsed) == ("stopped", "breached", 20 * M)
    assert view(c, policy, "first_response", 130).stopped_at == at(5)


def test_next_response_pauses_while_waiting_and_resumes_on_reply(policy: Policy) -> None:
    c = clocks(
        ev("first_response", 5),
        ev("customer_message", 30),
        ev("waiting_on_customer", 40),
        ev("customer_message", 100),
    )
    nr = view(c, policy, "next_response", 102)
    assert (nr.state, nr.cycle, nr.business_elapsed) == ("running", 1, 12 * M)
    assert nr.due_at == at(105)
    paused = c.views(policy, P1_CHAT, at(50))  # evaluated at an earlier instant: same rules
    assert paused["next_response"].state == "running"  # the events say it resumed at 100


def test_an_answer_while_waiting_stops_a_paused_next_response(policy: Policy) -> None:
    c = clocks(
        ev("first_response", 5),
        ev("customer_message", 30),
        ev("waiting_on_customer", 40),
        ev("first_response", 90),
    )
    nr = view(c, policy, "next_response", 100)
    assert (nr.state, nr.status, nr.stopped_at, nr.business_elapsed) == (
        "stopped",
        "met",
        at(90),
        10 * M,
    )


def test_resolved_without_an_answer_counts_as_answered(policy: Policy) -> None:
    c = clocks(ev("resolved", 5), ev("customer_message", 60))
    assert view(c, policy, "first_response", 70).status == "met"
    assert view(c, policy, "next_response", 70).started_at == at(60)


# --- idempotency, order, odd input -------------------------------------------------------------


SCENARIO = [
    ev("first_response", 5),
    ev("customer_message", 30),
    ev("waiting_on_customer", 40),
    ev("customer_message", 100),
    ev("first_response", 110),
    ev("resolved", 200),
    ev("reopened", 300),
]


def test_duplicates_change_nothing(policy: Policy) -> None:
    c = clocks(*SCENARIO)
    before = c.views(policy, P1_CHAT, at(400))
    assert not any(c.apply(e) for e in SCENARIO)
    assert c.views(policy, P1_CHAT, at(400)) == before


def test_arrival_order_does_not_matter(policy: Policy) -> None:
    expected = clocks(*SCENARIO).views(policy, P1_CHAT, at(400))
    created = ClockEvent("created", "created", T0)
    for order in itertools.islice(itertools.permutations([created, *SCENARIO]), 0, 5040, 97):
        assert TicketClocks(order).views(policy, P1_CHAT, at(400)) == expected


def test_two_versions_of_one_event_keep_the_earlier(policy: Policy) -> None:
    late, early = ev("first_response", 20, "same"), ev("first_response", 10, "same")
    a, b = clocks(late), clocks(early)
    assert a.apply(early) and not b.apply(late)
    assert a.views(policy, P1_CHAT, at(30)) == b.views(policy, P1_CHAT, at(30))
    assert a.events == b.events


def test_events_stamped_before_creation_count_at_creation(policy: Policy) -> None:
    c = clocks(ev("first_response", -1))
    fr = view(c, policy, "first_response", 5)
    assert (fr.state, fr.stopped_at, fr.business_elapsed) == ("stopped", T0, timedelta(0))


def test_without_a_created_event_nothing_runs(policy: Policy) -> None:
    c = TicketClocks([ev("first_response", 5)])
    assert c.status == "new" and c.created_at is None
    assert {v.state for v in c.views(policy, P1_CHAT, at(10)).values()} == {"idle"}
    c.apply(ClockEvent("created", "created", T0))
    assert c.created_at == T0
    assert view(c, policy, "first_response", 10).state == "stopped"


def test_the_earliest_creation_wins(policy: Policy) -> None:
    c = clocks(ClockEvent("created-2", "created", at(30)))
    assert view(c, policy, "first_response", 40).started_at == T0


def test_new_facts_give_new_targets(policy: Policy) -> None:
    c = clocks()
    p3 = TicketFacts("P3", "chat", "general")
    assert view(c, policy, "first_response", 5, p3).due_at == at(30)
    assert view(c, policy, "first_response", 5, P1_CHAT).due_at == at(15)


def test_bad_events_are_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ClockEvent("x", "created", datetime(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="unknown clock event kind"):
        ClockEvent("x", "escalated", T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        clocks().views(policy, P1_CHAT, datetime(2026, 3, 2))


def test_event_times_are_kept_in_utc() -> None:
    e = ClockEvent("x", "created", sh(2026, 3, 2, 10))
    assert e.at.tzinfo is UTC and e.at == T0


# --- mapping from the shared event types ------------------------------------------------------


def routed(change: str, message_id: str = "m1") -> TicketRouted:
    return TicketRouted(
        ticket_id="t1", message_id=message_id, channel="chat", priority="P1",
        skill_group="security", intent="security.lost_stolen", language="zh",
        ticket_created_at=T0, routed_at=at(3), change=change,  # type: ignore[arg-type]
    )  # fmt: skip


def test_events_from_routed_messages() -> None:
    assert events_from_routed(routed("created")) == [ClockEvent("created", "created", T0)]
    appended = events_from_routed(routed("appended", "m2"))
    assert appended[1] == ClockEvent("msg:m2", "customer_message", at(3))
    assert events_from_routed(routed("reopened", "m3"))[1].kind == "customer_message"


def test_event_from_lifecycle() -> None:
    event = TicketLifecycle(event_id="e1", ticket_id="t1", type="resolved", agent_id="a", at=at(9))
    assert event_from_lifecycle(event) == ClockEvent("lc:e1", "resolved", at(9))


def test_replaying_shared_events_twice_is_a_no_op(policy: Policy) -> None:
    c = TicketClocks()
    batch = [*events_from_routed(routed("created")), *events_from_routed(routed("appended"))]
    assert [c.apply(e) for e in batch] == [True, False, True]
    assert [c.apply(e) for e in batch] == [False, False, False]
