"""Processes the bench starts (no-op server, extra intakes, baseline loop, SLA engine), each
stopped by its own pid when the bench ends, whatever happened."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bench.stack import ROOT, RUN_DIR

LOG_DIR = RUN_DIR / "bench" / "logs"
PYTHON = sys.executable


class Child:
    """A background process in its own session; its output goes to ``.run/bench/logs/``."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path: Path = LOG_DIR / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL: only this pid."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class Children:
    """The bench's children; leaving the ``with`` block stops every one still running."""

    def __init__(self) -> None:
        self._all: list[Child] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        child = Child(name, argv, env)
        self._all.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self._all):
            child.stop()
        self._all.clear()


@contextlib.contextmanager
def children() -> Iterator[Children]:
    group = Children()
    previous = signal.getsignal(signal.SIGTERM)

    def _terminate(signum: int, _: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield group
    finally:
        group.stop_all()
        signal.signal(signal.SIGTERM, previous)
