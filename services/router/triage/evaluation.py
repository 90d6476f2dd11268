"""Measure the whole decision (rules + model), not the model alone, per skill group.

Support leads care about two numbers above all: how often a message reaches the right team,
and whether theft reports are caught (security recall) without flooding the P1 lane
(security precision). On data the model was fitted on, only k-fold figures are honest.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .datasets import Example, training_labels
from .decision import Triage, TriageInput
from .rules import SKILL_GROUPS, Rules
from .training import fit


@dataclass
class Report:
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    priority_total: int = 0
    priority_right: int = 0

    def add(self, truth: str, predicted: str) -> None:
        self.confusion[truth][predicted] += 1

    @property
    def total(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def accuracy(self) -> float:
        right = sum(self.confusion[g][g] for g in self.confusion)
        return right / self.total if self.total else 0.0

    def recall(self, group: str) -> float:
        row = self.confusion.get(group, {})
        n = sum(row.values())
        return row.get(group, 0) / n if n else 0.0

    def precision(self, group: str) -> float:
        n = sum(row.get(group, 0) for row in self.confusion.values())
        return self.confusion.get(group, {}).get(group, 0) / n if n else 0.0

    def render(self) -> str:
        groups = [g for g in SKILL_GROUPS if g in self.confusion or self._predicted(g)]
        lines = [f"examples: {self.total}", f"skill-group accuracy: {self.accuracy:.4f}", ""]
        lines.append(f"{'group':<14}{'n':>6}{'accuracy':>10}{'precision':>11}")
        for g in groups:
            n = sum(self.confusion.get(g, {}).values())
            lines.append(f"{g:<14}{n:>6}{self.recall(g):>10.4f}{self.precision(g):>11.4f}")
        lines += ["", "confusion (rows: truth, columns: predicted)"]
        short = [g[:8] for g in groups]
        lines.append(" " * 14 + "".join(f"{s:>9}" for s in short))
        for g in groups:
            row = self.confusion.get(g, {})
            lines.append(f"{g:<14}" + "".join(f"{row.get(p, 0):>9}" for p in groups))
        lines += [
            "",
            f"security recall: {self.recall('security'):.4f}",
            f"security precision: {self.precision('security'):.4f}",
        ]
        if self.priority_total:
            share = self.priority_right / self.priority_total
            lines.append(f"priority accuracy: {share:.4f} ({self.priority_total} labelled)")
        return "\n".join(lines)

    def _predicted(self, group: str) -> bool:
        return any(row.get(group) for row in self.confusion.values())


def to_input(example: Example) -> TriageInput:
    f = example.fields
    ivr = f.get("ivr_selection") or ()
    attrs = f.get("attributes")
    return TriageInput(
        channel=str(f.get("channel") or "chat"),
        text=example.text,
        subject=str(f["subject"]) if f.get("subject") else None,
        visibility=str(f["visibility"]) if f.get("visibility") else None,
        ivr_selection=tuple(str(d) for d in ivr) if isinstance(ivr, list) else (),
        attributes=attrs if isinstance(attrs, dict) else {},
    )


def score(triage: Triage, examples: Sequence[Example], report: Report) -> None:
    for example in examples:
        decision = triage.decide(to_input(example))
        report.add(example.group, decision.skill_group)
        expected = example.fields.get("priority")
        if expected:
            report.priority_total += 1
            report.priority_right += decision.priority == expected


def kfold(
    rules: Rules,
    examples: Sequence[Example],
    k: int,
    *,
    extra: Sequence[Example] = (),
    fine: Mapping[str, str] | None = None,
    seed: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> Report:
    """Stratified k-fold: each fold's model is fitted on the other folds (plus `extra`).

    `fine` maps raw labels to finer training targets than the judged ones (e.g. our intents).
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        by_label[example.raw_label].append(i)
    fold_of = [0] * len(examples)
    rng = random.Random(seed)
    offset = 0
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        for n, i in enumerate(members):
            fold_of[i] = (n + offset) % k
        offset += len(members)
    report = Report()
    for fold in range(k):
        train = [e for e, f in zip(examples, fold_of, strict=True) if f != fold] + list(extra)
        test = [e for e, f in zip(examples, fold_of, strict=True) if f == fold]
        labels, label_map = training_labels(train, fine)
        model = fit([e.text for e in train], labels, label_map=label_map)
        score(Triage(rules, model), test, report)
        progress(f"fold {fold + 1}/{k}: {len(train)} train, {len(test)} test")
    return report
