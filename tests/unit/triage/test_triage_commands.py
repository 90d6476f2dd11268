"""`switchboard route | evaluate | train` and the shipped model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from services.router.triage.commands import evaluate, route, train
from services.router.triage.model import DEFAULT_MODEL, LinearModel

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "triage"
CARD = "4539 1488 0343 6467"


def _route(lines: list[str], rules: Path | None = None) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = route(io.StringIO("\n".join(lines) + "\n"), out, rules)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_route_writes_one_decision_per_line() -> None:
    code, rows = _route(
        [
            json.dumps({"channel": "chat", "text": f"扣款了但是支付失败，卡号 {CARD}"}),
            json.dumps(
                {
                    "channel": "social",
                    "text": "钱包被偷了！电话13812345678",
                    "visibility": "public",
                    "attributes": {"tier": "vip"},
                },
                ensure_ascii=False,
            ),
            json.dumps({"channel": "phone", "text": "", "ivr_selection": ["2"]}),
            json.dumps(
                {"channel": "email", "subject": "Top-up not arrived", "text": "Hi, see subject"}
            ),
        ]
    )
    assert code == 0 and len(rows) == 4
    first, social, call, mail = rows
    assert first["skill_group"] == "payments" and first["priority"] == "P2"
    assert first["text"] == "扣款了但是支付失败，卡号 [card ****6467]"
    assert first["redactions"] == {"card_number": 1}
    assert (social["skill_group"], social["priority"], social["language"]) == (
        "security",
        "P1",
        "zh",
    )
    assert "13812345678" not in str(social["text"]) and social["redactions"] == {"phone": 1}
    assert call["skill_group"] == "payments"
    assert mail["skill_group"] == "funding" and mail["subject"] == "Top-up not arrived"
    for row in rows:
        assert {"intent", "priority", "skill_group", "language", "reasons", "text"} <= set(row)
        assert isinstance(row["reasons"], list) and row["reasons"]


@pytest.mark.parametrize(
    "line",
    [
        "not json at all 13812345678",
        "[1, 2]",
        json.dumps({"channel": "fax", "text": "secret 13812345678"}),
        json.dumps({"channel": "chat"}),
        json.dumps({"channel": "chat", "text": 42}),
        json.dumps({"channel": "chat", "text": "x", "attributes": []}),
        json.dumps({"channel": "phone", "text": "x", "ivr_selection": "12"}),
    ],
)
def test_route_bad_lines_give_errors_without_echoing_text(line: str) -> None:
    code, rows = _route([line, json.dumps({"channel": "chat", "text": "退款"})])
    assert code == 0
    assert set(rows[0]) == {"error"} and "13812345678" not in rows[0]["error"]  # type: ignore[operator]
    assert rows[1]["skill_group"] == "refunds"


def test_route_unreadable_rules_exit_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("intents: {x: {group: nope, priority: P1}}", encoding="utf-8")
    assert _route(["{}"], bad)[0] != 0
    assert _route(["{}"], tmp_path / "missing.yaml")[0] != 0


def test_evaluate_prints_group_accuracy_confusion_and_security(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert evaluate([str(FIXTURES / "holdout_en.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "skill-group accuracy:" in out and "confusion" in out
    assert "security recall:" in out and "security precision:" in out


def test_evaluate_rejects_unknown_labels(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("text,category\nhello,what_is_this\n", encoding="utf-8")
    assert evaluate([str(data)]) == 2


def test_train_and_kfold_on_a_small_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn")
    data = tmp_path / "small.csv"
    rows = ["text,category"]
    for i in range(12):
        rows += [f"my phone was stolen today {i},lost_phone", f"how do I top up {i},top_up"]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    skill_map = tmp_path / "map.json"
    skill_map.write_text(
        json.dumps({"skill_group": {"lost_phone": "security", "top_up": "funding"}})
    )
    out = tmp_path / "m.npz"
    args = [str(data), "--skill-map", str(skill_map), "--min-df", "1"]
    assert train([*args, "--out", str(out)]) == 0
    model = LinearModel.load(out)
    # foreign labels that map only to a group are kept (finer classes), mapped in the model
    assert set(model.classes) == {"lost_phone", "top_up"}
    assert model.label_map == {"lost_phone": "security", "top_up": "funding"}
    assert evaluate([*args[:3], "--model", str(out)]) == 0
    assert evaluate([*args[:3], "--kfold", "3"]) == 0
    assert "skill-group accuracy: 1.0000" in capsys.readouterr().out


def test_shipped_model_is_small_and_loads_without_sklearn_needs() -> None:
    assert DEFAULT_MODEL.stat().st_size < 5 * 1024 * 1024
    model = LinearModel.load()
    probs = model.predict("充值没到账")
    assert probs is not None and abs(float(probs.sum()) - 1.0) < 1e-4
    assert model.predict("🙂🙂") is None


def test_model_round_trip(tmp_path: Path) -> None:
    model = LinearModel.load()
    model.save(tmp_path / "copy.npz")
    again = LinearModel.load(tmp_path / "copy.npz")
    assert again.classes == model.classes
    a, b = model.predict("my card was declined"), again.predict("my card was declined")
    assert a is not None and b is not None and abs(a - b).max() < 1e-3
