"""Ticket clocks as a pure function of the set of events a ticket has seen.

Kafka delivers at least once and not always in order, so nothing here keeps running state
between events: a ticket keeps its events, deduplicated by id, and replays them in time order.
Applying an event twice, or in another order, therefore cannot change a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from services.sla.calendar import Calendar, require_aware
from services.sla.policy import TARGETS, Policy, Target, TargetName, TicketFacts
from shared.models import TicketLifecycle, TicketRouted

ClockEventKind = Literal[
    "created", "customer_message", "first_response", "waiting_on_customer", "resolved", "reopened"
]
ClockState = Literal["idle", "running", "paused", "stopped"]
ClockStatus = Literal["on_track", "at_risk", "breached", "met"]
TicketStatus = Literal["new", "open", "waiting", "resolved"]
Run = tuple[datetime, datetime | None]
# Same instant: the ticket exists before anything happens to it, a customer's words before the
# agent's answer to them, and resolving last.
_RANK: dict[str, int] = {
    "created": 0,
    "reopened": 1,
    "customer_message": 2,
    "first_response": 3,
    "waiting_on_customer": 4,
    "resolved": 5,
}
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """One fact about a ticket. ``first_response`` is any agent response, not only the first."""

    event_id: str
    kind: ClockEventKind
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in _RANK:
            raise ValueError(f"unknown clock event kind {self.kind!r}")
        object.__setattr__(self, "at", require_aware(self.at, "event time").astimezone(UTC))

    def sort_key(self) -> tuple[datetime, int, str]:
        return self.at, _RANK[self.kind], self.event_id


def events_from_routed(event: TicketRouted) -> list[ClockEvent]:
    """Every routed message restates the creation, so a lost 'created' record heals itself."""
    events = [ClockEvent("created", "created", event.ticket_created_at)]
    if event.change != "created":
        events.append(ClockEvent(f"msg:{event.message_id}", "customer_message", event.routed_at))
    return events


def event_from_lifecycle(event: TicketLifecycle) -> ClockEvent:
    return ClockEvent(f"lc:{event.event_id}", event.type, event.at)


@dataclass(frozen=True, slots=True)
class ClockView:
    """One clock as of ``as_of``; ``runs`` are the ticking stretches the deadlines count over."""

    target: TargetName
    state: ClockState
    status: ClockStatus
    started_at: datetime | None
    due_at: datetime | None
    at_risk_at: datetime | None
    stopped_at: datetime | None
    business_elapsed: timedelta
    target_duration: timedelta
    calendar: str
    rule: str
    cycle: int
    as_of: datetime
    runs: tuple[Run, ...] = ()

    @property
    def remaining(self) -> timedelta:
        return max(self.target_duration - self.business_elapsed, _ZERO)

    def when_elapsed(self, offset: timedelta, calendar: Calendar) -> datetime | None:
        """When business time on this clock reaches ``offset``; None if it cannot (not running)."""
        done = _ZERO
        for start, end in self.runs:
            if end is None:
                return calendar.add(start, max(offset - done, _ZERO))
            part = calendar.elapsed(start, end)
            if done + part >= offset:
                return calendar.add(start, max(offset - done, _ZERO))
            done += part
        return None


@dataclass(slots=True)
class _Track:
    state: ClockState = "idle"
    cycle: int = 0
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    runs: list[Run] = field(default_factory=list)

    def start(self, at: datetime) -> None:
        self.state, self.started_at, self.stopped_at = "running", at, None
        self.cycle += 1
        self.runs = [(at, None)]

    def resume(self, at: datetime, *, new_cycle: bool = False) -> None:
        if self.state in ("paused", "stopped"):
            self.state, self.stopped_at = "running", None
            self.cycle += new_cycle
            self.runs.append((at, None))

    def pause(self, at: datetime) -> None:
        if self.state == "running":
            self.runs[-1] = (self.runs[-1][0], at)
            self.state = "paused"

    def stop(self, at: datetime) -> None:
        if self.state == "running":
            self.runs[-1] = (self.runs[-1][0], at)
        if self.state in ("running", "paused"):
            self.state, self.stopped_at = "stopped", at


class TicketClocks:
    """The events of one ticket and the clocks they imply."""

    def __init__(self, events: Iterable[ClockEvent] = ()) -> None:
        self._events: dict[str, ClockEvent] = {}
        self._replayed: tuple[TicketStatus, dict[TargetName, _Track]] | None = None
        for event in events:
            self.apply(event)

    def apply(self, event: ClockEvent) -> bool:
        """Record an event; False when it changes nothing (a duplicate).

        Two versions of one id keep the earlier, so the outcome never depends on arrival order.
        """
        seen = self._events.get(event.event_id)
        if seen is not None and seen.sort_key() <= event.sort_key():
            return False
        self._events[event.event_id] = event
        self._replayed = None
        return True

    @property
    def events(self) -> tuple[ClockEvent, ...]:
        return tuple(sorted(self._events.values(), key=ClockEvent.sort_key))

    @property
    def created_at(self) -> datetime | None:
        return min((e.at for e in self._events.values() if e.kind == "created"), default=None)

    @property
    def status(self) -> TicketStatus:
        return self._replay()[0]

    def views(
        self, policy: Policy, facts: TicketFacts, now: datetime
    ) -> dict[TargetName, ClockView]:
        targets = policy.targets_for(facts)
        return {
            name: self.view(
                targets[name], policy.calendar(targets[name].calendar), policy.at_risk_share, now
            )
            for name in TARGETS
        }

    def view(
        self, target: Target, calendar: Calendar, at_risk_share: float, now: datetime
    ) -> ClockView:
        now = require_aware(now, "now").astimezone(UTC)
        track = self._replay()[1][target.name]
        runs = tuple(track.runs)
        base = ClockView(
            target.name, track.state, "on_track", track.started_at, None, None, track.stopped_at,
            _ZERO, target.duration, target.calendar, target.rule, track.cycle, now, runs,
        )  # fmt: skip
        if track.state == "idle":
            return base
        elapsed = sum(
            (calendar.elapsed(start, end or max(now, start)) for start, end in runs), _ZERO
        )
        due = base.when_elapsed(target.duration, calendar)
        at_risk = base.when_elapsed(target.duration * at_risk_share, calendar)
        # Where the clock last ticked: now while running, else where the last run ended.
        edge = now if track.state == "running" else runs[-1][1]
        assert edge is not None
        if track.state == "stopped":
            # The deadline it faced when it stopped, reached or not: reports compare against it.
            due = due or calendar.add(edge, target.duration - elapsed)
            at_risk = at_risk or calendar.add(edge, target.duration * at_risk_share - elapsed)
        status: ClockStatus
        if due is not None and (due < edge or (track.state == "running" and due <= now)):
            status = "breached"
        elif track.state == "stopped":
            status = "met"
        elif at_risk is not None and at_risk <= edge:
            status = "at_risk"
        else:
            status = "on_track"
        return ClockView(
            target.name, track.state, status, track.started_at, due, at_risk, track.stopped_at,
            elapsed, target.duration, target.calendar, target.rule, track.cycle, now, runs,
        )  # fmt: skip

    def _replay(self) -> tuple[TicketStatus, dict[TargetName, _Track]]:
        if self._replayed is None:
            self._replayed = _replay(self._events.values())
        return self._replayed


def _replay(events: Iterable[ClockEvent]) -> tuple[TicketStatus, dict[TargetName, _Track]]:
    """The clock rules, applied in time order (see docs/sla-policies.md)."""
    tracks: dict[TargetName, _Track] = {name: _Track() for name in TARGETS}
    events = list(events)
    created = min((e.at for e in events if e.kind == "created"), default=None)
    if created is None:
        return "new", tracks
    first, following, resolution = (tracks[name] for name in TARGETS)
    first.start(created)
    resolution.start(created)
    status: TicketStatus = "open"
    responded = False
    # Events stamped before the creation (skewed clocks) count as happening at creation.
    for event in sorted(events, key=lambda e: (max(e.at, created), _RANK[e.kind], e.event_id)):
        at = max(event.at, created)
        if event.kind == "customer_message":
            if status != "open":
                resolution.resume(at, new_cycle=status == "resolved")
                status = "open"
            if responded and following.state == "paused":
                following.resume(at)
            elif responded and following.state != "running":
                following.start(at)
        elif event.kind == "first_response":
            responded = True
            first.stop(at)
            following.stop(at)
        elif event.kind == "waiting_on_customer" and status == "open":
            status = "waiting"
            resolution.pause(at)
            following.pause(at)
        elif event.kind == "resolved" and status != "resolved":
            status, responded = "resolved", True
            for track in tracks.values():
                track.stop(at)
        elif event.kind == "reopened" and status == "resolved":
            status = "open"
            resolution.resume(at, new_cycle=True)
    return status, tracks
