"""Labelled examples from CSV or JSON Lines, for training and evaluation.

A deployment retrains on its own ticket history, whose exports differ: the label column can
be named, and labels from a foreign taxonomy (e.g. Banking77's 77 categories) are mapped onto
our intents or skill groups through a JSON skill map.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .rules import SKILL_GROUPS, Rules

LABEL_COLUMNS = ("intent", "label", "category", "skill_group")


class DatasetError(Exception):
    """A data file cannot be read or holds labels that map to nothing we know."""


@dataclass(frozen=True)
class Example:
    text: str
    raw_label: str
    label: str  # an intent of the rules or a skill group
    group: str
    fields: Mapping[str, object] = field(default_factory=dict)


def training_labels(
    examples: Sequence[Example], fine: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """Labels to fit on, and how the model maps them back onto our intents or groups.

    Foreign labels are kept as classes (Banking77's 77 categories rather than our 46 intents
    or 8 groups): finer classes separate better, and the stored map resolves them.
    """
    labels: list[str] = []
    label_map: dict[str, str] = {}
    for example in examples:
        target = (fine or {}).get(example.raw_label, example.label)
        labels.append(example.raw_label)
        if target != example.raw_label:
            label_map[example.raw_label] = target
    return labels, label_map


def load_skill_map(path: Path | None) -> dict[str, str]:
    """`{"skill_group": {label: target}}` (as shipped with Banking77) or a flat mapping."""
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read skill map: {exc}") from exc
    table = raw.get("skill_group", raw) if isinstance(raw, dict) else None
    if not isinstance(table, dict):
        raise DatasetError(f"{path}: expected a JSON object of label -> intent or group")
    return {str(k): str(v) for k, v in table.items() if k != "about"}


def read_rows(path: Path) -> Iterable[dict[str, object]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if path.suffix.lower() == ".csv":
                yield from csv.DictReader(fh)
                return
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise DatasetError(f"{path}:{n}: expected a JSON object")
                yield row
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc


def read_examples(
    paths: Iterable[Path],
    rules: Rules,
    *,
    text_col: str = "text",
    label_col: str | None = None,
    skill_map: Mapping[str, str] | None = None,
) -> list[Example]:
    """Every row with text and label; unknown labels stop the run with their names."""
    mapping = skill_map or {}
    out: list[Example] = []
    unknown: set[str] = set()
    for path in paths:
        for row in read_rows(path):
            text = str(row.get(text_col) or "").strip()
            raw = _label(row, label_col)
            if not text or not raw:
                continue
            label = mapping.get(raw, raw)
            if label in rules.intents:
                group = rules.intents[label].group
            elif label in SKILL_GROUPS:
                group = label
            else:
                unknown.add(raw)
                continue
            out.append(Example(text, raw, label, group, row))
    if unknown:
        shown = ", ".join(sorted(unknown)[:10])
        raise DatasetError(f"labels that are neither an intent nor a skill group: {shown}")
    return out


def _label(row: Mapping[str, object], label_col: str | None) -> str:
    for col in (label_col,) if label_col else LABEL_COLUMNS:
        value = row.get(col)
        if value:
            return str(value).strip()
    return ""
