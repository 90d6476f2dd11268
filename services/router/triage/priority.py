"""Priority from the intent's base, then floors, then raises; each step leaves a reason.

Floors (money at risk, public post) come before raises (VIP, complaint) so a VIP's public post
about money really ends up above an ordinary customer's. The security lane is P1, full stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .matcher import Phrase
from .rules import PRIORITIES, Rules


@dataclass(frozen=True, slots=True)
class Signals:
    """What the message says beyond its intent."""

    public_social: bool
    vip: bool
    complaint: Phrase | None
    money: Phrase | None


def is_vip(rules: Rules, attributes: Mapping[str, object]) -> bool:
    for key, allowed in rules.modifiers.vip_attributes.items():
        value = attributes.get(key)
        if value is not None and str(value).strip().lower() in allowed:
            return True
    return False


def decide_priority(rules: Rules, intent: str, signals: Signals) -> tuple[str, tuple[str, ...]]:
    spec = rules.intents[intent]
    mods = rules.modifiers
    if spec.group == "security":
        return "P1", ("security lane -> P1",)
    level = PRIORITIES.index(spec.priority)
    reasons = [f"base priority {spec.priority} ({intent})"]
    if signals.money is not None and spec.group in mods.money_groups:
        level = min(level, PRIORITIES.index(mods.money_min))
        hit = signals.money
        reasons.append(
            f"modifier: money at risk '{hit.text}' ({hit.lang}) -> at least {mods.money_min}"
        )
    if signals.public_social:
        level = min(level, PRIORITIES.index(mods.public_social_min))
        reasons.append(f"modifier: public social post -> at least {mods.public_social_min}")
    if signals.vip and mods.vip_raise:
        level = max(0, level - mods.vip_raise)
        reasons.append(f"modifier: vip +{mods.vip_raise}")
    complaint = intent in mods.complaint_intents or signals.complaint is not None
    if complaint and mods.complaint_raise:
        level = max(0, level - mods.complaint_raise)
        why = f"'{signals.complaint.text}'" if signals.complaint else intent
        reasons.append(f"modifier: complaint ({why}) +{mods.complaint_raise}")
    return PRIORITIES[level], tuple(reasons)
