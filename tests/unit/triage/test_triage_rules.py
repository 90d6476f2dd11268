"""rules.yaml validation, phrase matching and language detection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.router.triage import RulesError, Triage
from services.router.triage.language import detect_language
from services.router.triage.matcher import Phrase, PhraseMatcher, compile_pattern
from services.router.triage.rules import DEFAULT_RULES, load_rules
from services.router.triage.textnorm import normalize, units


def _write(tmp_path: Path, change: object) -> Path:
    raw = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    assert callable(change)
    change(raw)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_packaged_rules_load() -> None:
    rules = load_rules()
    assert rules.intents["security.lost_stolen"].priority == "P1"
    assert {i.group for i in rules.intents.values()} == {
        "security",
        "account",
        "payments",
        "funding",
        "refunds",
        "cards",
        "tech_support",
        "general",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["intents"].update({"x.y": {"group": "billing", "priority": "P3"}}),
            "intents.x.y.group: unknown skill group 'billing'",
        ),
        (
            lambda r: r["intents"].update({"x.y": {"group": "general", "priority": "P9"}}),
            "intents.x.y.priority: unknown priority 'P9'",
        ),
        (
            lambda r: r["intents"]["security.other"].update(priority="P2"),
            "intents.security.other.priority: the security lane is always P1",
        ),
        (
            lambda r: r["phrases"]["security.theft"].update(intent="nope"),
            "phrases.security.theft.intent: unknown intent 'nope'",
        ),
        (lambda r: r["ivr"].update({"9": "nope"}), "ivr.9: unknown intent 'nope'"),
        (
            lambda r: r["modifiers"]["public_social"].update(min_priority="urgent"),
            "modifiers.public_social.min_priority: unknown priority 'urgent'",
        ),
        (
            lambda r: r["modifiers"]["money_at_risk"].update(groups=["cash"]),
            "modifiers.money_at_risk.groups: unknown skill group 'cash'",
        ),
        (lambda r: r["phrases"]["security.theft"]["zh"].append("*"), "phrases.security.theft.zh["),
        (
            lambda r: r["phrases"]["security.theft"].update(wieght=2),
            "phrases.security.theft: unknown key(s) wieght",
        ),
        (lambda r: r["model"].update(rule_weight="high"), "model.rule_weight"),
        (lambda r: r["group_intent"].pop("cards"), "group_intent: missing skill group(s) cards"),
    ],
)
def test_invalid_rules_name_the_key(tmp_path: Path, change: object, message: str) -> None:
    with pytest.raises(RulesError, match="rules.yaml: " + _escape(message)):
        Triage.load(_write(tmp_path, change))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("intents: [unclosed", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(bad)


def test_missing_model_file_is_a_rules_error(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda r: r["model"].update(file="nowhere.npz"))
    with pytest.raises(RulesError, match=r"model\.file"):
        Triage.load(path)


def test_ops_can_add_a_phrase(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda r: r["phrases"]["general.promotion"]["zh"].append("双十一"))
    from services.router.triage import TriageInput

    d = Triage.load(path).decide(TriageInput(channel="chat", text="双十一"))
    assert d.intent == "general.promotion"
    assert "rule general.promotion matched '双十一' (zh)" in d.reasons


def _find(phrases: list[tuple[str, str]], text: str) -> list[str]:
    matcher = PhraseMatcher(Phrase("r", "i", p, lang, compile_pattern(p)) for p, lang in phrases)
    return [h.text for h in matcher.find(units(normalize(text)))]


def test_matcher_words_gaps_prefixes_and_folding() -> None:
    assert _find([("stolen", "en")], "My card was STOLEN!") == ["stolen"]
    assert _find([("stolen", "en")], "stolenness") == []
    assert _find([("lost * card", "en")], "I lost my credit card") == ["lost * card"]
    assert _find([("lost * card", "en")], "lost a b c d e card") == []
    assert _find([("recogni~", "en")], "unrecognised recognized") == ["recogni~"]
    assert _find([("dont know", "en")], "I don’t know") == ["dont know"]
    assert _find([("钱包*偷", "zh")], "錢包昨天在地鐵被偷") == ["钱包*偷"]
    assert _find([("top up", "en")], "my topup and top-up") == ["top up"]
    assert _find([("app闪退", "zh")], "我的APP閃退") == ["app闪退"]


def test_unless_cancels_its_rule() -> None:
    matcher = PhraseMatcher(
        [
            Phrase("theft", "i", "lost my card", "en", compile_pattern("lost my card")),
            Phrase("theft", "i", "found it", "en", compile_pattern("found it"), negate=True),
        ]
    )
    assert matcher.find(units(normalize("I lost my card but found it"))) == []
    hits, near_misses = matcher.scan(units(normalize("I lost my card but found it")))
    assert hits == []
    assert [h.text for h in near_misses] == ["found it"]  # the classifier's cue to hold back


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("钱包被偷了", "zh"),
        ("我的app闪退了", "zh"),
        ("My wallet was stolen", "en"),
        ("I paid via 微信 but it failed", "mixed"),
        ("充值 failed 了 please help me check", "mixed"),
        ("12345 !!!", "und"),
        ("", "und"),
    ],
)
def test_language_by_script_share(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_language_hint_only_when_text_is_too_short() -> None:
    assert detect_language("ok", "zh-CN") == "zh"
    assert detect_language("", "en_US") == "en"
    assert detect_language("钱包被偷了", "en") == "zh"


def test_the_old_variant_of_account_is_folded() -> None:
    assert normalize("转帐没到帐 帳戶") == normalize("转账没到账 账户")
