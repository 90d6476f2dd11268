"""Accuracy on the project's own Chinese and English hold-out examples (never trained on).

examples_*.jsonl are training data for the shipped model; holdout_*.jsonl are written
separately, in other words, so these numbers say how the router generalises.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from services.router.triage import Triage, TriageInput

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "triage"


@cache
def triage() -> Triage:
    return Triage.load()


def _rows(name: str) -> list[dict[str, str]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize(
    ("name", "group_bar", "priority_bar"),
    [
        ("holdout_zh.jsonl", 0.9, 0.85),
        ("holdout_en.jsonl", 0.9, 0.85),
        ("holdout2_zh.jsonl", 0.9, 0.85),
        ("holdout2_en.jsonl", 0.9, 0.85),
    ],
)
def test_holdout_accuracy(name: str, group_bar: float, priority_bar: float) -> None:
    rows = _rows(name)
    decisions = [triage().decide(TriageInput(channel="chat", text=r["text"])) for r in rows]
    groups = sum(d.skill_group == r["skill_group"] for d, r in zip(decisions, rows, strict=True))
    prios = sum(d.priority == r["priority"] for d, r in zip(decisions, rows, strict=True))
    assert groups / len(rows) >= group_bar
    assert prios / len(rows) >= priority_bar


@pytest.mark.parametrize(
    "name", ["holdout_zh.jsonl", "holdout_en.jsonl", "holdout2_zh.jsonl", "holdout2_en.jsonl"]
)
def test_holdout_security_is_never_missed(name: str) -> None:
    for row in _rows(name):
        if row["skill_group"] == "security":
            d = triage().decide(TriageInput(channel="chat", text=row["text"]))
            assert (d.skill_group, d.priority) == ("security", "P1"), row["text"]


@pytest.mark.parametrize("name", ["examples_zh.jsonl", "examples_en.jsonl"])
def test_training_examples_are_well_formed(name: str) -> None:
    rules = triage().rules
    for row in _rows(name):
        assert row["text"].strip()
        assert rules.intents[row["intent"]].group == row["skill_group"]
