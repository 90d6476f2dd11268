"""The escalation ladder: who hears about a late clock, and at which instant.

Steps are derived from a clock view, never stored: a replayed ticket yields the same steps with the
same fire times, so the publisher can deduplicate on ``dedupe_key`` across restarts and replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from services.sla.calendar import CalendarError, parse_duration

if TYPE_CHECKING:  # the policy holds the ladder, and clocks need the policy: no runtime cycle
    from services.sla.clocks import ClockView
    from services.sla.policy import Policy, TargetName

EscalationKind = Literal["at_risk", "breached"]
_ZERO = timedelta(0)


class LadderError(ValueError):
    """A bad ``ladder`` entry; the message starts with its key (the policy loader prefixes it)."""


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One rung: at_risk fires at the at-risk share, breached at 100% plus ``after``(``_share``)."""

    level: int
    kind: EscalationKind
    escalate_to: str
    after: timedelta = _ZERO
    after_share: float = 0.0

    def offset(self, target: timedelta, at_risk_share: float) -> timedelta:
        """Business time after the clock starts at which this rung fires."""
        if self.kind == "at_risk":
            return target * at_risk_share
        return target + self.after + target * self.after_share


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One rung reached (or to be reached) by one clock; ``due_at`` is the deadline it concerns."""

    level: int
    kind: EscalationKind
    target: TargetName
    escalate_to: str
    fire_at: datetime
    due_at: datetime
    cycle: int

    def dedupe_key(self, ticket_id: str) -> str:
        """Once per ticket, target and level; a next response is a new deadline each cycle.

        The resolution clock keeps its elapsed time across reopenings, so a rung it reached before
        a reopening stays reached and must not fire again: its key leaves the cycle out.
        """
        cycle = f"#{self.cycle}" if self.target == "next_response" else ""
        return f"{ticket_id}/{self.target}{cycle}/{self.level}"


def escalation_steps(view: ClockView, policy: Policy) -> list[EscalationStep]:
    """Rungs reached while the clock ticked, plus the future ones while it is still running.

    A paused clock has no future fire times; a clock that stopped at or before a rung's instant
    never reaches it (an answer exactly at the deadline is in time).
    """
    if view.state == "idle" or not view.runs:
        return []
    calendar = policy.calendar(view.calendar)
    edge = view.runs[-1][1]  # None while running
    steps: list[EscalationStep] = []
    for rung in policy.ladder:
        offset = rung.offset(view.target_duration, policy.at_risk_share)
        fire_at = view.when_elapsed(offset, calendar)
        if fire_at is None or (edge is not None and fire_at >= edge):
            continue
        if rung.kind == "breached" and view.due_at is not None:
            due_at = view.due_at
        else:
            # The deadline as it stood when the rung fired.
            due_at = calendar.add(fire_at, max(view.target_duration - offset, _ZERO))
        steps.append(
            EscalationStep(
                rung.level, rung.kind, view.target, rung.escalate_to, fire_at, due_at, view.cycle
            )
        )
    return steps


def steps_due(steps: Iterable[EscalationStep], now: datetime) -> list[EscalationStep]:
    """Rungs whose instant has come; publish each unless its ``dedupe_key`` was published."""
    return [step for step in steps if step.fire_at <= now]


def next_fire_at(steps: Iterable[EscalationStep], now: datetime) -> datetime | None:
    """The next future instant to set a timer for, or None when nothing is left to fire."""
    return min((step.fire_at for step in steps if step.fire_at > now), default=None)


def parse_ladder(raw: object) -> list[LadderStep]:
    """Parse and validate the policy file's ``ladder`` list."""
    if not isinstance(raw, list):
        raise LadderError(": expected a list of steps")
    steps: list[LadderStep] = []
    for i, item in enumerate(raw):
        key = f"[{i}]"
        if not isinstance(item, Mapping):
            raise LadderError(f"{key}: expected {{level, kind, escalate_to, after?}}")
        unknown = sorted(set(map(str, item)) - {"level", "kind", "escalate_to", "after"})
        if unknown:
            raise LadderError(f"{key}.{unknown[0]}: unknown key")
        level, kind, to = item.get("level"), item.get("kind"), item.get("escalate_to")
        if not isinstance(level, int) or isinstance(level, bool) or level < 1:
            raise LadderError(f"{key}.level: expected a positive integer")
        if steps and level <= steps[-1].level:
            raise LadderError(f"{key}.level: levels must increase down the ladder")
        if kind not in ("at_risk", "breached"):
            raise LadderError(f"{key}.kind: expected at_risk or breached, got {kind!r}")
        if not isinstance(to, str) or not to:
            raise LadderError(f"{key}.escalate_to: expected a role or queue name")
        if kind == "at_risk" and ("after" in item or any(s.kind == "breached" for s in steps)):
            raise LadderError(f"{key}: an at_risk step comes before breaches and takes no 'after'")
        after, share = _after(item.get("after"), f"{key}.after")
        if kind == "breached" and steps and steps[-1].kind == "breached" and not (after or share):
            raise LadderError(f"{key}.after: a later breach step needs time after the breach")
        steps.append(
            LadderStep(level, "at_risk" if kind == "at_risk" else "breached", to, after, share)
        )
    return steps


def _after(value: object, key: str) -> tuple[timedelta, float]:
    """'50%' of the target, or a fixed business time like '30m', after the breach."""
    if value is None:
        return _ZERO, 0.0
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            raise LadderError(f"{key}: expected a share like '50%', got {value!r}") from None
        if share <= 0:
            raise LadderError(f"{key}: must be more than 0%")
        return _ZERO, share
    try:
        days, plain = parse_duration(value)
    except CalendarError as exc:
        raise LadderError(f"{key}: {exc} (or a share of the target like '50%')") from None
    if days or plain <= _ZERO:
        raise LadderError(f"{key}: expected a positive time like '30m' (no 'bd') or '50%'")
    return plain, 0.0
