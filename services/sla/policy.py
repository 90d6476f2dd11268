"""SLA policy: which targets a ticket gets, on which calendar, and who hears about it when late.

Loaded from YAML that ops edit (``policies.yaml``); every mistake stops loading with a
``PolicyError`` that names the key, so a bad edit never reaches a running service half-applied.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from services.sla.calendar import (
    DEFAULT_TIMEZONE,
    HOLIDAYS_DIR,
    Calendar,
    CalendarError,
    Holidays,
    parse_duration,
    parse_periods,
    parse_week,
)
from services.sla.ladder import LadderError, LadderStep, parse_ladder
from shared.models import (
    CHANNELS,
    PRIORITIES,
    SKILL_GROUPS,
    Channel,
    Priority,
    SkillGroup,
    TicketRouted,
    Visibility,
)

TargetName = Literal["first_response", "next_response", "resolution"]
TARGETS: tuple[TargetName, ...] = get_args(TargetName)
# Precedence among equally specific rules, strongest first.
DIMENSIONS = ("intent", "skill_group", "priority", "channel", "visibility")
DEFAULT_POLICY_PATH = Path(__file__).with_name("policies.yaml")
ALWAYS_OPEN = "24x7"
_ALLOWED: dict[str, tuple[str, ...] | None] = {
    "intent": None,
    "skill_group": SKILL_GROUPS,
    "priority": PRIORITIES,
    "channel": CHANNELS,
    "visibility": ("public", "private"),
}
_ZERO = timedelta(0)
_CACHE_SIZE = 10_000


class PolicyError(ValueError):
    """The policy file is wrong; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What a rule can match on; intents are free strings owned by the router's rules."""

    priority: Priority
    channel: Channel
    skill_group: SkillGroup
    intent: str | None = None
    visibility: Visibility | None = None

    @classmethod
    def from_routed(cls, event: TicketRouted) -> TicketFacts:
        return cls(event.priority, event.channel, event.skill_group, event.intent, event.visibility)


@dataclass(frozen=True, slots=True)
class Target:
    """One resolved target; ``rule`` says which rule supplied it, for reasons shown to ops."""

    name: TargetName
    duration: timedelta
    calendar: str
    rule: str


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    index: int
    match: Mapping[str, frozenset[str]]
    targets: Mapping[TargetName, tuple[timedelta, str]]

    def matches(self, facts: TicketFacts) -> bool:
        return all(getattr(facts, dim) in allowed for dim, allowed in self.match.items())

    def rank(self) -> tuple[int, tuple[bool, ...], int]:
        """More dimensions first, then the stronger dimension, then the earlier rule in the file."""
        return len(self.match), tuple(d in self.match for d in DIMENSIONS), -self.index


class Policy:
    """Rules, calendars and the ladder, validated; lookups are cached per ticket facts."""

    def __init__(
        self,
        *,
        rules: Iterable[Rule],
        calendars: Mapping[str, Calendar],
        ladder: Iterable[LadderStep],
        at_risk_share: float = 0.8,
        source: str = "<policy>",
    ) -> None:
        self.rules = tuple(rules)
        self.calendars = dict(calendars)
        self.ladder = tuple(ladder)
        self.at_risk_share = at_risk_share
        self.source = source
        self._cache: dict[TicketFacts, dict[TargetName, Target]] = {}

    def calendar(self, name: str) -> Calendar:
        return self.calendars[name]

    def targets_for(self, facts: TicketFacts) -> dict[TargetName, Target]:
        cached = self._cache.get(facts)
        if cached is None:
            cached = {name: self._pick(facts, name) for name in TARGETS}
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[facts] = cached
        return cached

    def target_for(self, facts: TicketFacts, name: TargetName) -> Target:
        return self.targets_for(facts)[name]

    def _pick(self, facts: TicketFacts, name: TargetName) -> Target:
        candidates = [r for r in self.rules if name in r.targets and r.matches(facts)]
        if not candidates:
            who = ", ".join(f"{d}={getattr(facts, d)}" for d in DIMENSIONS if getattr(facts, d))
            raise PolicyError(
                f"{self.source}: rules: no rule gives {name} to {who}; add `match: {{}}`"
            )
        best = max(candidates, key=Rule.rank)
        duration, calendar = best.targets[name]
        return Target(name, duration, calendar, best.name)

    def calendars_missing_holidays(self, year: int) -> list[str]:
        """Calendars running on plain weekly hours in ``year``: worth a start-up warning."""
        return [name for name, cal in self.calendars.items() if not cal.knows_holidays(year)]


def load_policy(path: str | Path | None = None, *, holidays_dir: Path = HOLIDAYS_DIR) -> Policy:
    """Read and validate a policy file (default: the one shipped next to this module)."""
    file = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file}: not valid YAML: {exc}") from None
    return parse_policy(data, source=str(file), holidays_dir=holidays_dir)


def parse_policy(
    data: object, *, source: str = "<policy>", holidays_dir: Path = HOLIDAYS_DIR
) -> Policy:
    """Validate an already-parsed policy document."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: expected a mapping at the top level")
    _no_unknown(data, {"version", "at_risk_share", "calendars", "ladder", "rules"}, source)
    if data.get("version", 1) != 1:
        raise PolicyError(f"{source}: version: only version 1 is understood")
    share = data.get("at_risk_share", 0.8)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise PolicyError(
            f"{source}: at_risk_share: expected a number between 0 and 1, got {share!r}"
        )
    calendars = _calendars(data.get("calendars", {}), source, holidays_dir)
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise PolicyError(f"{source}: rules: expected a non-empty list")
    rules = [_rule(raw, i, calendars, f"{source}: rules[{i}]") for i, raw in enumerate(rules_raw)]
    try:
        ladder = parse_ladder(data.get("ladder", []))
    except LadderError as exc:
        raise PolicyError(f"{source}: ladder{exc}") from None
    policy = Policy(
        rules=rules, calendars=calendars, ladder=ladder, at_risk_share=float(share), source=source
    )
    for combo in itertools.product(PRIORITIES, CHANNELS, SKILL_GROUPS, (None, "public", "private")):
        policy.targets_for(TicketFacts(*combo[:3], visibility=combo[3]))
    return policy


def _no_unknown(data: Mapping[str, Any], allowed: set[str], key: str) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise PolicyError(f"{key}: unknown key {unknown[0]!r} (expected one of {sorted(allowed)})")


def _calendars(raw: object, source: str, holidays_dir: Path) -> dict[str, Calendar]:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{source}: calendars: expected a mapping of name to calendar")
    calendars = {ALWAYS_OPEN: Calendar.always(ALWAYS_OPEN)}
    for name, config in raw.items():
        if name == ALWAYS_OPEN:
            raise PolicyError(
                f"{source}: calendars.{name}: '24x7' is built in and cannot be redefined"
            )
        if not isinstance(config, Mapping):
            raise PolicyError(
                f"{source}: calendars.{name}: expected a mapping (timezone, hours, ...)"
            )
        try:
            calendars[str(name)] = _calendar(str(name), config, holidays_dir)
        except CalendarError as exc:
            raise PolicyError(f"{source}: calendars.{name}.{exc}") from None
    return calendars


def _calendar(name: str, config: Mapping[str, Any], holidays_dir: Path) -> Calendar:
    unknown = set(config) - {"timezone", "hours", "holidays", "makeup_day", "business_day"}
    if unknown:
        raise CalendarError(f"{sorted(unknown)[0]}: unknown key")
    timezone = config.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(timezone, str):
        raise CalendarError("timezone: expected an IANA zone name like Asia/Shanghai")
    if "hours" not in config:
        raise CalendarError("hours: missing (a calendar that is always open is '24x7')")
    region = config.get("holidays", "none")
    if not isinstance(region, str) or not region.isidentifier():
        raise CalendarError(f"holidays: expected a region like 'cn' or 'none', got {region!r}")
    try:
        holidays = None if region == "none" else Holidays.load(region, holidays_dir)
    except CalendarError as exc:
        raise CalendarError(f"holidays: {exc}") from None
    makeup = config.get("makeup_day")
    business_day = None
    if "business_day" in config:
        try:
            days, business_day = parse_duration(config["business_day"])
        except CalendarError as exc:
            raise CalendarError(f"business_day: {exc}") from None
        if days or business_day <= _ZERO:
            raise CalendarError("business_day: expected hours, like '8h'")
    return Calendar(
        name,
        timezone=timezone,
        week=parse_week(config["hours"]),
        holidays=holidays,
        makeup_day=parse_periods(makeup, "makeup_day") if makeup is not None else None,
        business_day=business_day,
    )


def _rule(raw: object, index: int, calendars: Mapping[str, Calendar], key: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{key}: expected a mapping with match and targets")
    _no_unknown(raw, {"name", "match", *TARGETS}, key)
    match_raw = raw.get("match") or {}
    if not isinstance(match_raw, Mapping):
        raise PolicyError(f"{key}.match: expected a mapping like {{priority: P1, channel: email}}")
    _no_unknown(match_raw, set(DIMENSIONS), f"{key}.match")
    match = {
        str(dim): _values(dim, value, f"{key}.match.{dim}") for dim, value in match_raw.items()
    }
    targets = {
        name: _target(raw[name], calendars, f"{key}.{name}") for name in TARGETS if name in raw
    }
    if not targets:
        raise PolicyError(f"{key}: gives no target (first_response, next_response or resolution)")
    return Rule(str(raw.get("name") or key.rsplit(": ", 1)[-1]), index, match, targets)


def _values(dim: str, value: object, key: str) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyError(f"{key}: expected a value or a list of values, got {value!r}")
    allowed = _ALLOWED[dim]
    for v in values:
        if allowed is not None and v not in allowed:
            raise PolicyError(f"{key}: {v!r} is not one of {list(allowed)}")
    return frozenset(values)


def _target(raw: object, calendars: Mapping[str, Calendar], key: str) -> tuple[timedelta, str]:
    if not isinstance(raw, Mapping) or "within" not in raw or "calendar" not in raw:
        raise PolicyError(f"{key}: expected {{within: <duration>, calendar: <name>}}")
    _no_unknown(raw, {"within", "calendar"}, key)
    name = str(raw["calendar"])
    if name not in calendars:
        raise PolicyError(f"{key}.calendar: unknown calendar {name!r} (have {sorted(calendars)})")
    try:
        duration = calendars[name].resolve(*parse_duration(raw["within"]))
    except CalendarError as exc:
        raise PolicyError(f"{key}.within: {exc}") from None
    if duration <= _ZERO:
        raise PolicyError(f"{key}.within: must be longer than zero")
    return duration, name
