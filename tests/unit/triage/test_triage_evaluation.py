"""Metrics and data loading behind `switchboard evaluate` / `train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.router.triage.datasets import (
    DatasetError,
    load_skill_map,
    read_examples,
)
from services.router.triage.evaluation import Report
from services.router.triage.rules import load_rules


def test_report_recall_precision_and_accuracy() -> None:
    report = Report()
    for truth, predicted in [
        ("security", "security"),
        ("security", "security"),
        ("security", "payments"),
        ("payments", "security"),
        ("payments", "payments"),
    ]:
        report.add(truth, predicted)
    assert report.total == 5
    assert report.accuracy == pytest.approx(3 / 5)
    assert report.recall("security") == pytest.approx(2 / 3)
    assert report.precision("security") == pytest.approx(2 / 3)
    text = report.render()
    assert "security recall: 0.6667" in text and "security precision: 0.6667" in text


def test_skill_map_wrapped_or_flat(tmp_path: Path) -> None:
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"about": "x", "skill_group": {"a": "cards"}}))
    flat = tmp_path / "f.json"
    flat.write_text(json.dumps({"a": "cards.order"}))
    assert load_skill_map(wrapped) == {"a": "cards"}
    assert load_skill_map(flat) == {"a": "cards.order"}
    assert load_skill_map(None) == {}
    bad = tmp_path / "b.json"
    bad.write_text("[1]")
    with pytest.raises(DatasetError):
        load_skill_map(bad)


def test_read_examples_csv_and_jsonl(tmp_path: Path) -> None:
    rules = load_rules()
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("text,category\nmy card is lost,lost_card\n,lost_card\n", encoding="utf-8")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(
        json.dumps(
            {"text": "退款", "intent": "refunds.request", "priority": "P3"}, ensure_ascii=False
        )
        + "\n\n"
        + json.dumps({"text": "积分", "skill_group": "general"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    examples = read_examples([csv_file, jsonl], rules, skill_map={"lost_card": "security"})
    assert [(e.label, e.group) for e in examples] == [
        ("security", "security"),
        ("refunds.request", "refunds"),
        ("general", "general"),
    ]
    assert examples[1].fields["priority"] == "P3"
    with pytest.raises(DatasetError, match="lost_card"):
        read_examples([csv_file], rules)
