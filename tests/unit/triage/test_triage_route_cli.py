"""`switchboard route` on hostile input: every bad line gives an error line, the rest go on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.triage.test_triage_commands import _route

ROOT = Path(__file__).resolve().parents[3]
OK = json.dumps({"channel": "chat", "text": "退款"})


@pytest.mark.parametrize(
    "line",
    [
        '{"channel":"chat","text":"\\ud800"}',  # a lone surrogate, escaped
        '{"channel":"chat","text":"13812345678 \\udfff tail"}',
        '{"channel":"chat","text":"ok","subject":"\\ud83d"}',
        json.dumps({"channel": "social", "text": "13812345678", "visibility": "friends"}),
        json.dumps({"channel": "chat", "text": "x", "visibility": 1}),
        json.dumps({"channel": "phone", "text": "x", "ivr_selection": [-1]}),
        json.dumps({"channel": "phone", "text": "x", "ivr_selection": [True]}),
        json.dumps({"channel": "phone", "text": "x", "ivr_selection": ["1a"]}),
        json.dumps({"channel": "phone", "text": "x", "ivr_selection": ["1"] * 65}),
        json.dumps({"channel": "chat", "text": "x", "attributes": {"tier": {"nested": 1}}}),
        json.dumps({"channel": "chat", "text": "x", "language": "not a tag 13812345678"}),
        json.dumps({"channel": "chat", "text": "   "}),
        json.dumps({"channel": "chat", "text": "x" * 100_001}),
    ],
)
def test_bad_lines_give_an_error_and_the_next_line_is_routed(line: str) -> None:
    code, rows = _route([line, OK])
    assert code == 0 and len(rows) == 2
    assert set(rows[0]) == {"error"}
    assert "13812345678" not in str(rows[0]["error"])
    assert rows[1]["skill_group"] == "refunds"


def test_ivr_digits_given_as_numbers_are_taken_as_digits() -> None:
    _, (as_int, as_str) = _route(
        [
            json.dumps({"channel": "phone", "ivr_selection": [1]}),
            json.dumps({"channel": "phone", "ivr_selection": ["1"]}),
        ]
    )
    assert as_int == as_str and as_int["skill_group"] == "security"


def test_redacted_is_reported_like_the_service() -> None:
    _, (card, plain, social) = _route(
        [
            json.dumps({"channel": "email", "text": "card 6222.0212.3456.7894 blocked"}),
            json.dumps({"channel": "chat", "text": "退款"}),
            json.dumps({"channel": "social", "text": "退款", "visibility": "public"}),
        ]
    )
    assert card["text"] == "card [card ****7894] blocked" and card["redacted"] is True
    assert plain["redacted"] is False and social["redacted"] is True


def _cli(stdin: bytes, tmp_path: Path, *, head: int | None = None) -> tuple[list[str], str]:
    source = tmp_path / "in.jsonl"
    source.write_bytes(stdin)
    with source.open("rb") as lines_in, (tmp_path / "err").open("w+b") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "route"],
            cwd=ROOT,
            stdin=lines_in,
            stdout=subprocess.PIPE,
            stderr=err,
            env={"PATH": "/usr/bin:/bin", "LANG": "C"},
        )
        assert proc.stdout is not None
        with proc.stdout:
            if head is None:
                lines = proc.stdout.read().decode("utf-8").splitlines()
            else:  # read a few lines, then go away like `| head`
                lines = [proc.stdout.readline().decode("utf-8") for _ in range(head)]
        proc.wait(timeout=120)
        err.seek(0)
        return lines, err.read().decode()


def test_the_command_reads_bytes_that_are_not_utf8_and_writes_utf8_in_any_locale(
    tmp_path: Path,
) -> None:
    lines, err = _cli(b'{"channel":"chat","text":"\xff\xfe"}\n' + OK.encode() + b"\n", tmp_path)
    assert len(lines) == 2 and "error" in json.loads(lines[0])
    assert json.loads(lines[1])["text"] == "退款"
    assert "Traceback" not in err


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path: Path) -> None:
    lines, err = _cli((OK + "\n").encode() * 5_000, tmp_path, head=2)
    assert all(json.loads(line)["skill_group"] == "refunds" for line in lines)
    assert "Traceback" not in err and "BrokenPipeError" not in err
