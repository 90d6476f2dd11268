"""The router's one entry point: a message in, intent, team, priority and reasons out.

`Triage` is immutable once loaded so a SIGHUP reload can build a new one off to the side and
swap it in; a bad rules or model file raises RulesError and the old one stays in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from shared.redaction import Redaction, redact

from .classifier import Classifier
from .language import detect_language
from .model import LinearModel, ModelError
from .priority import Signals, decide_priority, is_vip
from .rules import COMPLAINT, MONEY, Rules, RulesError, load_rules
from .textnorm import normalize, units

_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class TriageInput:
    channel: str
    text: str
    subject: str | None = None
    quoted: str | None = None
    visibility: str | None = None
    ivr_selection: tuple[str, ...] = ()
    attributes: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    language: str | None = None


@dataclass(frozen=True)
class Decision:
    intent: str
    skill_group: str
    priority: str
    language: str
    reasons: tuple[str, ...]


class Triage:
    """Rules plus model, ready to decide thousands of messages a second."""

    def __init__(self, rules: Rules, model: LinearModel | None) -> None:
        self.rules = rules
        self.model = model
        self._classifier = Classifier(rules, model)

    @classmethod
    def load(cls, rules_path: Path | None = None) -> Triage:
        """Rules from `rules_path` (None: packaged rules.yaml) and the model they name."""
        rules = load_rules(rules_path)
        try:
            model = LinearModel.load(rules.model.file)
        except ModelError as exc:
            raise RulesError(f"{rules.source}: model.file: {exc}") from exc
        return cls(rules, model)

    def decide(self, item: TriageInput) -> Decision:
        text = "\n".join(p for p in (item.subject, item.text) if p and p.strip())
        if not text and item.quoted:
            text = item.quoted  # nothing new was written: the history is all we have
        hits, near_misses = self.rules.phrases.scan(units(normalize(text)))
        found = self._classifier.classify(
            text, [h for h in hits if h.intent], item.ivr_selection, near_misses
        )
        complaint = [h for h in hits if h.rule_id == COMPLAINT]
        money = [h for h in hits if h.rule_id == MONEY]
        signals = Signals(
            public_social=item.channel == "social"
            and (item.visibility or "").strip().lower() == "public",
            vip=is_vip(self.rules, item.attributes),
            complaint=complaint[0] if complaint else None,
            money=money[0] if money else None,
        )
        priority, why = decide_priority(self.rules, found.intent, signals)
        return Decision(
            intent=found.intent,
            skill_group=self.rules.intents[found.intent].group,
            priority=priority,
            language=detect_language(text, item.language),
            reasons=found.reasons + why,
        )

    def redact(self, channel: str, text: str) -> Redaction:
        """Social: everything personal; other channels: card numbers only (PCI)."""
        return redact(text, full=channel == "social")
