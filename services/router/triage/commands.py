"""`switchboard route | evaluate | train`: how ops test rules and how a deployment retrains.

`route` is the dry run of the service's decision on JSON Lines, with no Kafka or database. A
line is checked as the intake checks a post (types, visibility, IVR digits, attribute values;
IVR digits given as numbers are taken as their digits); a bad line, or one that fails for any
other reason, yields an error line (never echoing the customer's text) and the next line is
read. Only unreadable rules stop it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .datasets import DatasetError, Example, load_skill_map, read_examples, training_labels
from .decision import Triage, TriageInput
from .evaluation import Report, kfold, score
from .model import LinearModel, ModelError
from .redaction import merge_counts
from .rules import Rules, RulesError, load_rules
from .training import DEFAULT_C, DEFAULT_MIN_DF, fit

CHANNELS = ("phone", "email", "chat", "social")
VISIBILITIES = ("public", "private")
# The intake's limits (services/intake/channels/schemas.py), so a line the intake would refuse
# is refused here too.
_MAX_TEXT = 100_000
_MAX_SHORT = 1_000
_MAX_IVR = 64
_IVR_DIGITS = re.compile(r"[0-9*#]{1,32}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")
_MAX_ATTRIBUTES = 50
_MAX_ATTRIBUTE_KEY = 64


class _BadLine(ValueError):
    pass


def route(stdin: TextIO, stdout: TextIO, rules_path: Path | None = None) -> int:
    """One JSON line out per JSON line in; exit 2 only when the rules cannot be loaded."""
    try:
        triage = Triage.load(rules_path)
    except RulesError as exc:
        print(f"switchboard route: {exc}", file=sys.stderr)
        return 2
    for n, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            out = _route_one(triage, line)
        except _BadLine as exc:
            out = {"error": f"line {n}: {exc}"}
        except Exception as exc:  # noqa: BLE001 - one line's failure must not lose the rest
            out = {"error": f"line {n}: could not be routed ({type(exc).__name__})"}
        stdout.write(_dumps(out) + "\n")
        stdout.flush()
    return 0


def _dumps(out: dict[str, object]) -> str:
    text = json.dumps(out, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # not reachable from checked input; never fail on output
        text = json.dumps(out, ensure_ascii=True)
    return text


def _route_one(triage: Triage, line: str) -> dict[str, object]:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise _BadLine(f"not valid JSON ({type(exc).__name__})") from None
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _BadLine("not valid Unicode (a lone surrogate or an undecodable byte)") from None
    item = _parse(raw)
    decision = triage.decide(item)
    body = triage.redact(item.channel, item.text)
    out: dict[str, object] = {
        "channel": item.channel,
        "intent": decision.intent,
        "skill_group": decision.skill_group,
        "priority": decision.priority,
        "language": decision.language,
        "reasons": list(decision.reasons),
        "text": body.text,
    }
    counts = dict(body.counts)
    if item.subject is not None:
        subject = triage.redact(item.channel, item.subject)
        counts = merge_counts(counts, subject.counts)
        out["subject"] = subject.text
    out["redactions"] = counts
    out["redacted"] = item.channel == "social" or bool(counts)
    return out


def _parse(raw: object) -> TriageInput:
    if not isinstance(raw, dict):
        raise _BadLine("expected a JSON object")
    channel = raw.get("channel")
    if channel not in CHANNELS:
        raise _BadLine(f"'channel' must be one of {', '.join(CHANNELS)}")
    text = raw.get("text", "" if channel == "phone" or raw.get("ivr_selection") else None)
    if not isinstance(text, str):
        raise _BadLine("'text' must be a string")
    if len(text) > _MAX_TEXT:
        raise _BadLine(f"'text' is longer than {_MAX_TEXT} characters")
    if channel != "phone" and not text.strip():
        raise _BadLine("'text' must not be blank")
    for key in ("subject", "quoted", "visibility", "language"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _BadLine(f"'{key}' must be a string")
    if len(raw.get("subject") or "") > _MAX_SHORT:
        raise _BadLine(f"'subject' is longer than {_MAX_SHORT} characters")
    visibility = raw.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        raise _BadLine(f"'visibility' must be one of {', '.join(VISIBILITIES)}")
    language = raw.get("language")
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise _BadLine("'language' must be a BCP 47 tag such as zh-CN or en")
    return TriageInput(
        channel=channel,
        text=text,
        subject=raw.get("subject"),
        quoted=raw.get("quoted"),
        visibility=visibility,
        ivr_selection=_ivr(raw.get("ivr_selection")),
        attributes=_attributes(raw.get("attributes")),
        language=language.replace("_", "-").split("-")[0].lower() if language else None,
    )


def _ivr(value: object) -> tuple[str, ...]:
    """Digits pressed, as the intake takes them; a number is taken as its digits (``[1]``)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _MAX_IVR:
        raise _BadLine(f"'ivr_selection' must be a list of at most {_MAX_IVR} digit strings")
    pressed: list[str] = []
    for d in value:
        if isinstance(d, int) and not isinstance(d, bool) and d >= 0:
            d = str(d)
        if not isinstance(d, str) or not _IVR_DIGITS.fullmatch(d):
            raise _BadLine("'ivr_selection' items must be digits, * or # (e.g. \"1\")")
        pressed.append(d)
    return tuple(pressed)


def _attributes(value: object) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > _MAX_ATTRIBUTES:
        raise _BadLine(f"'attributes' must be an object of at most {_MAX_ATTRIBUTES} entries")
    for key, item in value.items():
        if not 1 <= len(key) <= _MAX_ATTRIBUTE_KEY:
            raise _BadLine(f"'attributes' keys must have 1-{_MAX_ATTRIBUTE_KEY} characters")
        if isinstance(item, str) and len(item) > _MAX_SHORT:
            raise _BadLine(f"'attributes' values must be at most {_MAX_SHORT} characters")
        if not (item is None or isinstance(item, str | int | float | bool)):
            raise _BadLine("'attributes' values must be strings, numbers, booleans or null")
    return value


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="text column/field (default: text)")
    parser.add_argument(
        "--label-col", help="label column (default: first of intent, label, category, skill_group)"
    )
    parser.add_argument("--skill-map", type=Path, help="JSON map of foreign labels to ours")
    parser.add_argument("--rules", type=Path, help="rules.yaml (default: the packaged one)")


def evaluate(argv: Sequence[str]) -> int:
    """Accuracy per skill group, confusion matrix, security recall/precision."""
    parser = argparse.ArgumentParser(prog="switchboard evaluate", description=evaluate.__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="labelled CSV or JSONL")
    _data_args(parser)
    parser.add_argument("--kfold", type=int, default=0, help="k-fold CV, retraining per fold")
    parser.add_argument("--model", type=Path, help="model file to judge (default: the rules')")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="more training data per fold"
    )
    parser.add_argument("--train-map", type=Path, help="finer label map for fold training")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.rules)
        examples = read_examples(
            args.files,
            rules,
            text_col=args.text_col,
            label_col=args.label_col,
            skill_map=load_skill_map(args.skill_map),
        )
        if args.kfold:
            if args.kfold < 2 or args.kfold > len(examples):
                parser.error("--kfold needs 2 <= K <= number of examples")
            report = _kfold(rules, examples, args)
        else:
            model = LinearModel.load(args.model or rules.model.file)
            report = Report()
            score(Triage(rules, model), examples, report)
    except (RulesError, DatasetError, ModelError) as exc:
        print(f"switchboard evaluate: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    return 0


def _kfold(rules: Rules, examples: list[Example], args: argparse.Namespace) -> Report:
    fine = load_skill_map(args.train_map)
    extra = read_examples(args.extra, rules, text_col=args.text_col) if args.extra else []
    return kfold(
        rules,
        examples,
        args.kfold,
        extra=extra,
        fine=fine,
        seed=args.seed,
        progress=lambda msg: print(msg, file=sys.stderr),
    )


def train(argv: Sequence[str]) -> int:
    """Fit the model on labelled CSV/JSONL files and write it (.npz) for the router."""
    parser = argparse.ArgumentParser(prog="switchboard train", description=train.__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="labelled CSV or JSONL")
    parser.add_argument("--out", type=Path, required=True, help="model file to write (.npz)")
    _data_args(parser)
    parser.add_argument("--c", type=float, default=DEFAULT_C, help="inverse regularisation")
    parser.add_argument("--min-df", type=int, default=DEFAULT_MIN_DF, help="drop rarer features")
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.rules)
        examples = read_examples(
            args.files,
            rules,
            text_col=args.text_col,
            label_col=args.label_col,
            skill_map=load_skill_map(args.skill_map),
        )
        labels, label_map = training_labels(examples)
        model = fit(
            [e.text for e in examples],
            labels,
            label_map=label_map,
            c=args.c,
            min_df=args.min_df,
            sources=[p.name for p in args.files],
        )
    except (RulesError, DatasetError, ValueError, RuntimeError) as exc:
        print(f"switchboard train: {exc}", file=sys.stderr)
        return 2
    model.save(args.out)
    print(
        f"trained on {len(examples)} examples, {len(model.classes)} labels, "
        f"{len(model.vocabulary)} features -> {args.out}"
    )
    return 0
