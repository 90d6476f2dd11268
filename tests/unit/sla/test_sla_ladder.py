"""Escalation steps: fire times for running clocks, none for rungs a stopped clock never reached."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import yaml

from services.sla.clocks import ClockEvent, ClockView, TicketClocks
from services.sla.ladder import EscalationStep, escalation_steps, next_fire_at, steps_due
from services.sla.policy import DEFAULT_POLICY_PATH, Policy, TargetName, TicketFacts, parse_policy
from tests.unit.sla.sla_helpers import sh

M, H = timedelta(minutes=1), timedelta(hours=1)
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
P1_CHAT = TicketFacts("P1", "chat", "security")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(kind: str, minutes: float) -> ClockEvent:
    return ClockEvent(f"{kind}@{minutes}", kind, at(minutes))  # type: ignore[arg-type]


def clock(
    policy: Policy, name: TargetName, now: float, *events: ClockEvent, facts: TicketFacts = P1_CHAT
) -> ClockView:
    c = TicketClocks([ClockEvent("created", "created", T0), *events])
    return c.views(policy, facts, at(now))[name]


def summary(steps: list[EscalationStep]) -> list[tuple[int, str, str, datetime]]:
    return [(s.level, s.kind, s.escalate_to, s.fire_at) for s in steps]


def test_a_running_clock_has_every_rung(policy: Policy) -> None:
    steps = escalation_steps(clock(policy, "first_response", 1), policy)
    assert summary(steps) == [
        (1, "at_risk", "team_lead", at(12)),
        (2, "breached", "supervisor", at(15)),
        (3, "breached", "manager", at(22.5)),
    ]
    assert {(s.target, s.due_at, s.cycle) for s in steps} == {("first_response", at(15), 1)}


def test_rungs_already_passed_stay_listed_while_running(policy: Policy) -> None:
    steps = escalation_steps(clock(policy, "first_response", 20), policy)
    assert [s.level for s in steps_due(steps, at(20))] == [1, 2]
    assert next_fire_at(steps, at(20)) == at(22.5)
    assert next_fire_at(steps, at(30)) is None


def test_a_clock_stopped_before_a_rung_never_reaches_it(policy: Policy) -> None:
    def levels(answered: float) -> list[int]:
        view = clock(policy, "first_response", 60, ev("first_response", answered))
        return [s.level for s in escalation_steps(view, policy)]

    assert levels(11) == []
    assert levels(12) == []  # stopped exactly at the rung
    assert levels(13) == [1]
    assert levels(15) == [1]  # answered exactly at the deadline: in time
    assert levels(16) == [1, 2]
    assert levels(30) == [1, 2, 3]


def test_a_paused_clock_has_no_future_fire_times(policy: Policy) -> None:
    events = (ev("first_response", 1), ev("waiting_on_customer", 20 * 60))
    view = clock(policy, "resolution", 30 * 60, *events)
    steps = escalation_steps(view, policy)
    assert summary(steps) == [(1, "at_risk", "team_lead", at(0.8 * 24 * 60))]
    assert steps[0].due_at == at(24 * 60)  # the deadline as it stood when the rung fired
    assert next_fire_at(steps, at(30 * 60)) is None


def test_resuming_moves_future_rungs_by_the_pause(policy: Policy) -> None:
    events = (
        ev("first_response", 1),
        ev("waiting_on_customer", 60),
        ev("customer_message", 180),
    )
    steps = escalation_steps(clock(policy, "resolution", 200, *events), policy)
    assert [s.fire_at for s in steps] == [at(0.8 * 24 * 60 + 120), at(26 * 60), at(38 * 60)]


def test_rungs_reached_before_a_reopening_keep_their_time(policy: Policy) -> None:
    events = (ev("first_response", 1), ev("resolved", 23 * 60), ev("reopened", 30 * 60))
    view = clock(policy, "resolution", 30 * 60 + 5, *events)
    assert view.cycle == 2
    steps = escalation_steps(view, policy)
    assert steps[0].fire_at == at(0.8 * 24 * 60)
    assert steps[1].fire_at == at(31 * 60)  # one hour was left when it was resolved
    assert steps[0].dedupe_key("t1") == "t1/resolution/1"


def test_next_response_rungs_are_per_cycle(policy: Policy) -> None:
    events = (
        ev("first_response", 1),
        ev("customer_message", 10),
        ev("first_response", 40),
        ev("customer_message", 100),
    )
    steps = escalation_steps(clock(policy, "next_response", 101, *events), policy)
    assert steps[0].fire_at == at(112) and steps[0].cycle == 2
    assert steps[0].dedupe_key("t1") == "t1/next_response#2/1"


def test_idle_clocks_have_no_steps(policy: Policy) -> None:
    assert escalation_steps(clock(policy, "next_response", 5), policy) == []


def test_business_calendar_rungs_skip_nights_and_weekends(policy: Policy) -> None:
    c = TicketClocks([ClockEvent("created", "created", sh(2026, 3, 6, 17))])  # Friday
    view = c.views(policy, TicketFacts("P3", "email", "general"), sh(2026, 3, 6, 17, 5))
    steps = escalation_steps(view["first_response"], policy)
    assert [s.fire_at for s in steps] == [
        sh(2026, 3, 9, 15, 24),  # 80% of 8 business hours
        sh(2026, 3, 9, 17),  # 100%
        sh(2026, 3, 10, 12),  # 150%: four more business hours (1h Mon, 3h Tue)
    ]


def test_a_fixed_time_after_the_breach(policy: Policy) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    custom = copy.deepcopy(data)
    custom["at_risk_share"] = 0.5
    custom["ladder"][2]["after"] = "30m"
    custom["ladder"].append({"level": 4, "kind": "breached", "escalate_to": "cxo", "after": "2h"})
    p = parse_policy(custom)
    steps = escalation_steps(clock(p, "first_response", 1), p)
    assert [(s.level, s.fire_at) for s in steps] == [
        (1, at(7.5)),
        (2, at(15)),
        (3, at(45)),
        (4, at(135)),
    ]


def test_without_an_at_risk_rung(policy: Policy) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["ladder"] = [{"level": 1, "kind": "breached", "escalate_to": "supervisor"}]
    p = parse_policy(data)
    assert summary(escalation_steps(clock(p, "first_response", 1), p)) == [
        (1, "breached", "supervisor", at(15))
    ]
