"""Rules and model combined into one intent, with the reasons an agent or ops can check.

The security lane is decided first and by rules alone when they match, so no model score can
demote a theft report; everything else is a vote where matching rules add to the model's
probability of their group (see the header of rules.yaml). An `unless` phrase of a security rule
("found it", "fee", "atm ate") marks a known near miss, so it also withholds the model's
security boost: the model alone must then outscore the other groups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .matcher import Phrase
from .model import LinearModel
from .rules import SKILL_GROUPS, Rules

_SECURITY = SKILL_GROUPS.index("security")
_LATIN_WORD = re.compile(r"[^\W\d_\u3400-\u9fff]{2,}|\d+")
_HAN = re.compile(r"[\u3400-\u9fff]")


def _words(text: str) -> int:
    """Distinct words, two distinct Han characters counting as one: how much there is to go on."""
    return len(set(_LATIN_WORD.findall(text))) + len(set(_HAN.findall(text))) // 2


@dataclass(frozen=True, slots=True)
class Classification:
    intent: str
    reasons: tuple[str, ...]


def rule_reason(hit: Phrase) -> str:
    return f"rule {hit.rule_id} matched '{hit.text}' ({hit.lang})"


def rule_reasons(hits: list[Phrase]) -> tuple[str, ...]:
    """One reason per rule: its first matching phrase."""
    seen: set[str] = set()
    out: list[str] = []
    for hit in hits:
        if hit.rule_id not in seen:
            seen.add(hit.rule_id)
            out.append(rule_reason(hit))
    return tuple(out)


class Classifier:
    """Holds the rules and the model with its classes already mapped onto intents and groups."""

    def __init__(self, rules: Rules, model: LinearModel | None) -> None:
        self._rules = rules
        self._model = model
        self._group_of = {name: SKILL_GROUPS.index(i.group) for name, i in rules.intents.items()}
        intents: list[str] = []
        if model is not None:
            mapping = model.label_map
            for label in model.classes:
                intents.append(self._label_intent(mapping.get(label, label)))
        self._class_intent = intents
        self._class_group = np.array(
            [self._group_of.get(i, -1) for i in intents] or [0], dtype=np.intp
        )
        self._known = self._class_group >= 0
        self._bins = np.where(self._known, self._class_group, 0)

    def _label_intent(self, label: str) -> str:
        rules = self._rules
        if label in rules.intents:
            return label
        group = label.split(".", 1)[0]
        return rules.group_intent.get(group, "")

    def classify(
        self,
        text: str,
        hits: list[Phrase],
        ivr: Sequence[str],
        near_misses: Sequence[Phrase] = (),
    ) -> Classification:
        """`hits`: the intent rules that matched `text`, in text order; `near_misses`: the
        `unless` phrases that matched (a security one withholds the security boost)."""
        rules = self._rules
        ivr_key, ivr_intent = self._ivr(ivr)
        ivr_reason = f"ivr {ivr_key} -> {ivr_intent}" if ivr_intent else ""
        security = [h for h in hits if self._group_of[h.intent] == _SECURITY]
        if ivr_intent and self._group_of[ivr_intent] == _SECURITY:
            return Classification(ivr_intent, (ivr_reason, *rule_reasons(security)))
        if security:
            best = max(security, key=lambda h: h.weight)
            return Classification(best.intent, rule_reasons(security))

        if not hits and not ivr_intent and (words := _words(text)) < rules.model.min_words:
            # "phone", "账户": the model would still name a lane, with confidence it has not earned.
            why = f"too little text to classify ({words} word{'s' if words != 1 else ''})"
            return Classification(rules.fallback_intent, (f"{why} -> {rules.fallback_intent}",))
        probs = self._model.predict(text) if self._model is not None and text else None
        if probs is not None:
            probs = np.where(self._known, probs, 0.0)
            scores = np.bincount(self._bins, weights=probs, minlength=len(SKILL_GROUPS))
        else:
            scores = np.zeros(len(SKILL_GROUPS), dtype=np.float64)
        model_scores = scores.copy()
        veto = next((h for h in near_misses if self._group_of.get(h.intent) == _SECURITY), None)
        boosted = scores[_SECURITY] >= rules.model.security_threshold and veto is None
        if boosted:
            scores[_SECURITY] += rules.model.security_boost
        best_rule: dict[int, Phrase] = {}
        for hit in hits:
            g = self._group_of[hit.intent]
            if g not in best_rule or hit.weight > best_rule[g].weight:
                best_rule[g] = hit
        for g, hit in best_rule.items():
            scores[g] += rules.model.rule_weight * hit.weight
        if ivr_intent:
            scores[self._group_of[ivr_intent]] += rules.model.ivr_weight
        g = int(scores.argmax())
        group = SKILL_GROUPS[g]
        if scores[g] < rules.model.min_confidence:
            top = SKILL_GROUPS[int(model_scores.argmax())]
            unsure = f"model unsure ({top} {model_scores.max():.2f})" if probs is not None else ""
            why = "; ".join(x for x in ("no rule matched", unsure) if x)
            return Classification(rules.fallback_intent, (f"{why} -> {rules.fallback_intent}",))

        reasons = list(rule_reasons([h for h in hits if self._group_of[h.intent] == g]))
        if ivr_intent and self._group_of[ivr_intent] == g:
            reasons.append(ivr_reason)
        if probs is not None and model_scores[g] >= 0.01:
            reasons.append(f"model: {group} {model_scores[g]:.2f}")
        if g == _SECURITY and boosted:
            reasons.append(f"model: security lane at or above {rules.model.security_threshold}")
        if veto is not None and g != _SECURITY:
            reasons.append(f"near miss '{veto.text}' ({veto.rule_id} unless): no security boost")
        if g in best_rule:
            intent = best_rule[g].intent
        else:
            intent = (
                (self._model_intent(probs, g) if probs is not None else None)
                or ivr_intent
                or rules.group_intent[group]
            )
        return Classification(intent, tuple(reasons))

    def _model_intent(self, probs: np.ndarray, group: int) -> str | None:
        masked = np.where(self._class_group == group, probs, -1.0)
        k = int(masked.argmax())
        return self._class_intent[k] if masked[k] > 0 else None

    def _ivr(self, selection: Sequence[str]) -> tuple[str, str]:
        table = self._rules.ivr
        digits = [str(d).strip() for d in selection if str(d).strip()]
        for n in range(len(digits), 0, -1):
            key = "-".join(digits[:n])
            if key in table:
                return key, table[key]
        return "", ""
