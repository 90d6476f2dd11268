"""Load and validate rules.yaml: ops edit it by hand, so every mistake must name its key.

A reload that fails raises RulesError and the service keeps the rules it already has; nothing
half-valid is ever put in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .matcher import Phrase, PhraseMatcher, compile_pattern
from .textnorm import is_han

SKILL_GROUPS = (
    "security",
    "account",
    "payments",
    "funding",
    "refunds",
    "cards",
    "tech_support",
    "general",
)
PRIORITIES = ("P1", "P2", "P3", "P4")
LANGS = ("zh", "en")
DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 6x faster


class RulesError(Exception):
    """The rules file is unreadable or invalid; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    group: str
    priority: str


@dataclass(frozen=True, slots=True)
class ModelSettings:
    file: Path | None
    rule_weight: float
    ivr_weight: float
    security_threshold: float
    security_boost: float
    min_confidence: float
    min_words: int = 2


@dataclass(frozen=True, slots=True)
class Modifiers:
    public_social_min: str
    vip_raise: int
    vip_attributes: dict[str, frozenset[str]]
    complaint_raise: int
    complaint_intents: frozenset[str]
    money_min: str
    money_groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rules:
    intents: dict[str, Intent]
    group_intent: dict[str, str]
    fallback_intent: str
    phrases: PhraseMatcher  # intent rules and modifier phrases (intent "") together
    ivr: dict[str, str]
    modifiers: Modifiers
    model: ModelSettings
    source: Path


def load_rules(path: Path | None = None) -> Rules:
    """Parse and validate a rules file (None: the packaged default)."""
    source = path or DEFAULT_RULES
    try:
        raw = yaml.load(source.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{source}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return _build(_mapping(raw, "(top level)"), source)
    except RulesError as exc:
        raise RulesError(f"{source}: {exc}") from None


def _build(raw: dict[str, Any], source: Path) -> Rules:
    intents: dict[str, Intent] = {}
    for name, spec in _mapping(raw.get("intents"), "intents").items():
        key = f"intents.{name}"
        body = _mapping(spec, key)
        group = _choice(body.get("group"), SKILL_GROUPS, f"{key}.group", "skill group")
        prio = _choice(body.get("priority"), PRIORITIES, f"{key}.priority", "priority")
        if group == "security" and prio != "P1":
            raise RulesError(f"{key}.priority: the security lane is always P1, not {prio}")
        intents[str(name)] = Intent(str(name), group, prio)
    if not intents:
        raise RulesError("intents: at least one intent is required")

    def intent_ref(value: object, key: str) -> str:
        return _choice(value, tuple(intents), key, "intent")

    group_intent = {
        _choice(g, SKILL_GROUPS, f"group_intent.{g}", "skill group"): intent_ref(
            i, f"group_intent.{g}"
        )
        for g, i in _mapping(raw.get("group_intent"), "group_intent").items()
    }
    missing = [g for g in SKILL_GROUPS if g not in group_intent]
    if missing:
        raise RulesError(f"group_intent: missing skill group(s) {', '.join(missing)}")
    fallback = intent_ref(raw.get("fallback_intent"), "fallback_intent")

    phrases: list[Phrase] = []
    for rule_id, spec in _mapping(raw.get("phrases"), "phrases").items():
        key = f"phrases.{rule_id}"
        body = _mapping(spec, key)
        intent = intent_ref(body.get("intent"), f"{key}.intent")
        weight = body.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise RulesError(f"{key}.weight: expected a positive number, got {weight!r}")
        _only(body, key, {"intent", "weight", "zh", "en", "unless"})
        phrases.extend(_phrases(body, key, str(rule_id), intent, float(weight)))
        phrases.extend(_unless(body, key, str(rule_id), intent))
    ivr = {
        str(digits): intent_ref(i, f"ivr.{digits}")
        for digits, i in _mapping(raw.get("ivr", {}), "ivr").items()
    }
    return Rules(
        intents=intents,
        group_intent=group_intent,
        fallback_intent=fallback,
        phrases=PhraseMatcher(
            phrases + _modifier_phrases(_mapping(raw.get("modifiers"), "modifiers"))
        ),
        ivr=ivr,
        modifiers=_modifiers(_mapping(raw.get("modifiers"), "modifiers"), intent_ref),
        model=_model(_mapping(raw.get("model", {}), "model"), source),
        source=source,
    )


COMPLAINT, MONEY = "modifier.complaint", "modifier.money_at_risk"


def _modifier_phrases(raw: dict[str, Any]) -> list[Phrase]:
    """Modifier phrases ride in the same matcher as the rules (one scan per message)."""
    out: list[Phrase] = []
    for name, rule_id in (("complaint", COMPLAINT), ("money_at_risk", MONEY)):
        body = _mapping(raw.get(name), f"modifiers.{name}")
        out += _phrases(body, f"modifiers.{name}", rule_id, "")
    return out


def _modifiers(raw: dict[str, Any], intent_ref: Any) -> Modifiers:
    social = _mapping(raw.get("public_social"), "modifiers.public_social")
    vip = _mapping(raw.get("vip"), "modifiers.vip")
    complaint = _mapping(raw.get("complaint"), "modifiers.complaint")
    money = _mapping(raw.get("money_at_risk"), "modifiers.money_at_risk")
    _only(social, "modifiers.public_social", {"min_priority"})
    _only(vip, "modifiers.vip", {"raise", "attributes"})
    _only(complaint, "modifiers.complaint", {"raise", "intents", "zh", "en"})
    _only(money, "modifiers.money_at_risk", {"min_priority", "groups", "zh", "en"})
    attrs = {
        str(k): frozenset(str(v).lower() for v in _list(vals, f"modifiers.vip.attributes.{k}"))
        for k, vals in _mapping(vip.get("attributes"), "modifiers.vip.attributes").items()
    }
    return Modifiers(
        public_social_min=_choice(
            social.get("min_priority"),
            PRIORITIES,
            "modifiers.public_social.min_priority",
            "priority",
        ),
        vip_raise=_int(vip.get("raise"), "modifiers.vip.raise"),
        vip_attributes=attrs,
        complaint_raise=_int(complaint.get("raise"), "modifiers.complaint.raise"),
        complaint_intents=frozenset(
            intent_ref(i, "modifiers.complaint.intents")
            for i in _list(complaint.get("intents", []), "modifiers.complaint.intents")
        ),
        money_min=_choice(
            money.get("min_priority"),
            PRIORITIES,
            "modifiers.money_at_risk.min_priority",
            "priority",
        ),
        money_groups=frozenset(
            _choice(g, SKILL_GROUPS, "modifiers.money_at_risk.groups", "skill group")
            for g in _list(money.get("groups"), "modifiers.money_at_risk.groups")
        ),
    )


def _model(raw: dict[str, Any], source: Path) -> ModelSettings:
    file = raw.get("file")
    if file is not None and not isinstance(file, str):
        raise RulesError("model.file: expected a path or null")

    def num(key: str, default: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise RulesError(f"model.{key}: expected a non-negative number, got {value!r}")
        return float(value)

    _only(
        raw,
        "model",
        {
            "file",
            "rule_weight",
            "ivr_weight",
            "security_threshold",
            "security_boost",
            "min_confidence",
            "min_words",
        },
    )
    return ModelSettings(
        file=(source.parent / file) if file else None,
        rule_weight=num("rule_weight", 0.6),
        ivr_weight=num("ivr_weight", 0.5),
        security_threshold=num("security_threshold", 0.5),
        security_boost=num("security_boost", 1.0),
        min_confidence=num("min_confidence", 0.3),
        min_words=int(num("min_words", 2)),
    )


def _phrases(
    body: dict[str, Any], key: str, rule_id: str, intent: str, weight: float = 1.0
) -> list[Phrase]:
    out: list[Phrase] = []
    for lang in LANGS:
        for k, text in enumerate(_list(body.get(lang, []), f"{key}.{lang}")):
            if not isinstance(text, str):
                raise RulesError(f"{key}.{lang}[{k}]: expected a string, got {text!r}")
            try:
                pattern = compile_pattern(text)
            except ValueError as exc:
                raise RulesError(f"{key}.{lang}[{k}]: {exc}") from None
            out.append(Phrase(rule_id, intent, text, lang, pattern, weight))
    return out


def _unless(body: dict[str, Any], key: str, rule_id: str, intent: str) -> list[Phrase]:
    out: list[Phrase] = []
    for k, text in enumerate(_list(body.get("unless", []), f"{key}.unless")):
        if not isinstance(text, str):
            raise RulesError(f"{key}.unless[{k}]: expected a string, got {text!r}")
        try:
            pattern = compile_pattern(text)
        except ValueError as exc:
            raise RulesError(f"{key}.unless[{k}]: {exc}") from None
        lang = "zh" if is_han(pattern[0]) else "en"
        out.append(Phrase(rule_id, intent, text, lang, pattern, negate=True))
    return out


def _only(body: dict[str, Any], key: str, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RulesError(f"{key}: unknown key(s) {', '.join(unknown)}")


def _mapping(value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(f"{key}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _list(value: object, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise RulesError(f"{key}: expected a list, got {type(value).__name__}")
    return value


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
        raise RulesError(f"{key}: expected an integer 0-3, got {value!r}")
    return value


def _choice(value: object, allowed: tuple[str, ...], key: str, what: str) -> str:
    if value not in allowed:
        shown = ", ".join(allowed) if len(allowed) <= 10 else f"{len(allowed)} defined"
        raise RulesError(f"{key}: unknown {what} {value!r} (expected one of: {shown})")
    return str(value)
