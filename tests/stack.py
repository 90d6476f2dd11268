"""The native stack for tests: the same scripts as `make infra` and `make up`.

Both scripts are idempotent: a stack that already runs is reused as it is, and whatever a test
run starts keeps running afterwards (`make down` stops it). Results, failures included, are
remembered for the whole session so the scripts run at most once each.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = ROOT / ".run"
NATIVE = ROOT / "deploy" / "native"
SCRIPT_TIMEOUT_S = 900

STACK_KEYS = (
    "INTAKE_URL",
    "ROUTER_URL",
    "SLA_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "INTAKE_TOKEN",
    "AGENT_TOKEN",
)


class StackError(RuntimeError):
    """A script of the native stack failed; the message holds the end of its output."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse `KEY=VALUE` lines (blank lines and `#` comments skipped)."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StackError(f"{path}: not a KEY=VALUE line: {line!r}")
        env[key.strip()] = value.strip()
    return env


def _run(script: str) -> None:
    try:
        proc = subprocess.run(
            [str(NATIVE / script)],
            cwd=ROOT,
            env={**os.environ, "QUIET": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"deploy/native/{script} did not finish in {SCRIPT_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        raise StackError(f"deploy/native/{script} failed (exit {proc.returncode}):\n{tail}")


_results: dict[str, dict[str, str] | StackError] = {}


def _ensure(script: str, env_file: str, keys: tuple[str, ...]) -> dict[str, str]:
    if script not in _results:
        try:
            _run(script)
            env = read_env_file(RUN_DIR / env_file)
            missing = [k for k in keys if not env.get(k)]
            if missing:
                raise StackError(f".run/{env_file} lacks {', '.join(missing)}")
            _results[script] = env
        except (StackError, OSError) as exc:
            _results[script] = exc if isinstance(exc, StackError) else StackError(str(exc))
    result = _results[script]
    if isinstance(result, StackError):
        raise result
    return dict(result)


def ensure_infra() -> dict[str, str]:
    """Kafka and PostgreSQL up (migrated, topics created): KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL."""
    if "up.sh" in _results and not isinstance(_results["up.sh"], StackError):
        stack = _results["up.sh"]
        return {k: stack[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    return _ensure("infra.sh", "infra.env", ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"))


def ensure_stack() -> dict[str, str]:
    """The whole stack up: the parsed `.run/stack.env` (SPEC §6)."""
    return _ensure("up.sh", "stack.env", STACK_KEYS)
