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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TextIO

import msgspec

from shared.payload import Attributes, IvrSelection, Language, Short, Text
from shared.redaction import merge_counts
from shared.validation import invalid_field

from .datasets import DatasetError, Example, load_skill_map, read_examples, training_labels
from .decision import Triage, TriageInput
from .evaluation import Report, kfold, score
from .model import LinearModel, ModelError
from .rules import Rules, RulesError, load_rules
from .training import DEFAULT_C, DEFAULT_MIN_DF, fit


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


class _Line(msgspec.Struct, forbid_unknown_fields=False):
    """One input line, with the intake's field types (``shared.payload``)."""

    channel: Literal["phone", "email", "chat", "social"]
    text: Text | None = None
    subject: Short | None = None
    quoted: Text | None = None
    visibility: Literal["public", "private"] | None = None
    language: Language | None = None
    ivr_selection: IvrSelection = []
    attributes: Attributes = {}


def _parse(raw: object) -> TriageInput:
    if isinstance(raw, dict) and isinstance(raw.get("ivr_selection"), list):
        # Digits given as numbers ([1]) are taken as their digits.
        raw["ivr_selection"] = [
            str(d) if isinstance(d, int) and not isinstance(d, bool) and d >= 0 else d
            for d in raw["ivr_selection"]
        ]
    try:
        line = msgspec.convert(raw, _Line)
    except msgspec.ValidationError as exc:
        path, detail = invalid_field(exc)
        raise _BadLine(f"{path}: {detail}") from None
    text = line.text
    if text is None and (line.channel == "phone" or line.ivr_selection):
        text = ""  # a call may be its IVR digits alone
    if text is None or (line.channel != "phone" and not text.strip()):
        raise _BadLine("$.text: must not be missing or blank")
    return TriageInput(
        channel=line.channel,
        text=text,
        subject=line.subject,
        quoted=line.quoted,
        visibility=line.visibility,
        ivr_selection=tuple(line.ivr_selection),
        attributes=line.attributes,
        language=line.language.replace("_", "-").split("-")[0].lower() if line.language else None,
    )


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
