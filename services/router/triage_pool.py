"""Triage beside the event loop: in a worker process, so that the next batch is triaged while
the current one is stored and published.

Triage is pure (a message and the rules in force in, a verdict out) and CPU-bound (≈ 0.3 ms a
message, pure Python), so a thread would only take turns with the event loop for the one GIL.
A worker writes nothing: triaging a record that is later refused or re-delivered costs only
CPU. The worker gets the very `Triage` object in force (pickled once); a SIGHUP reload starts a
new worker with the new one. A worker that dies is replaced, and the batch it held is triaged
in the event loop instead.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

import msgspec

from services.router.rules import RulesHolder
from services.router.triage import Triage, TriageInput
from shared.models import InboundMessage
from shared.redaction import KINDS, neutral

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(InboundMessage).decode


class Verdict(NamedTuple):
    """What triage and redaction made of one message (small, cheap to send between processes)."""

    intent: str
    skill_group: str
    priority: str
    language: str
    reasons: tuple[str, ...]
    body: str
    subject: str | None
    quoted: str | None
    redactions: dict[str, int]


# A verdict, or why triage failed for that message.
Outcome = Verdict | str


def clean(text: str | None) -> str | None:
    """PostgreSQL text holds neither NUL nor lone surrogates; both can arrive in valid JSON."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _neutral(text: str | None) -> str | None:
    return None if text is None else neutral(text)


def triage_one(triage: Triage, message: InboundMessage) -> Verdict:
    """Classify and redact (again: the intake already redacted what it publishes, and its
    counts arrive in ``message.redactions``; what it took out is not there to count twice)."""
    body = clean(message.body) or ""
    subject = clean(message.subject)
    quoted = clean(message.quoted)
    decision = triage.decide(
        TriageInput(
            channel=message.channel,
            text=neutral(body),
            subject=_neutral(subject),
            quoted=_neutral(quoted),
            visibility=message.visibility,
            ivr_selection=tuple(message.ivr_selection),
            attributes=message.attributes,
            language=message.language,
        )
    )
    # Kinds are metric labels downstream: only the known ones, whatever a producer wrote.
    counts = {k: n for k, n in message.redactions.items() if k in KINDS and n > 0}
    redacted: list[str | None] = []
    for text in (body, subject, quoted):
        if text is None:
            redacted.append(None)
            continue
        result = triage.redact(message.channel, text)
        redacted.append(result.text)
        for kind, n in result.counts.items():
            counts[kind] = counts.get(kind, 0) + n
    full = redacted[0] or ""
    if redacted[2]:
        full = f"{full}\n\n{redacted[2]}" if full else redacted[2]
    return Verdict(
        intent=decision.intent,
        skill_group=decision.skill_group,
        priority=decision.priority,
        language=decision.language,
        reasons=decision.reasons,
        body=full,
        subject=redacted[1],
        quoted=redacted[2],
        redactions=counts,
    )


def triage_all(triage: Triage, messages: list[InboundMessage]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for message in messages:
        try:
            outcomes.append(triage_one(triage, message))
        except Exception as exc:  # noqa: BLE001 - one message's failure must not fail the rest
            outcomes.append(f"{type(exc).__name__}: {exc}")
    return outcomes


# --- in the worker process ---------------------------------------------------------------------

_worker_triage: Triage | None = None


def _exit_with_parent(parent: int) -> None:
    """A SIGKILLed router must not leave its worker behind."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _init_worker(triage: Triage, parent: int) -> None:
    global _worker_triage  # the worker's one piece of state
    _worker_triage = triage
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _triage_values(values: list[bytes]) -> list[Outcome]:
    if _worker_triage is None:
        raise RuntimeError("triage worker not initialised")
    return triage_all(_worker_triage, [_decode(v) for v in values])


# --- in the router -----------------------------------------------------------------------------


class TriagePool:
    """``workers`` = 0: triage in the event loop, when awaited (tests, the dry run)."""

    def __init__(self, rules: RulesHolder, workers: int) -> None:
        self._rules = rules
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._triage: Triage | None = None

    @property
    def parallel(self) -> bool:
        return self._workers > 0

    def _pool(self) -> ProcessPoolExecutor:
        current = self._rules.current
        if self._executor is None or self._triage is not current:
            self._discard()
            self._executor = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(current, os.getpid()),
            )
            self._triage = current
        return self._executor

    def _discard(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def warm(self) -> None:
        """Start the worker now, rather than on the first batch."""
        if self._workers:
            await asyncio.wrap_future(self._pool().submit(_triage_values, []))

    def start(self, values: list[bytes]) -> asyncio.Future[list[Outcome]] | None:
        """Start triaging already-decoded records (by their bytes) in a worker; None inline."""
        if not self._workers:
            return None
        try:
            future: Future[list[Outcome]] = self._pool().submit(_triage_values, values)
        except (BrokenProcessPool, RuntimeError):
            self._discard()
            return None
        return asyncio.wrap_future(future)

    async def result(
        self, started: asyncio.Future[list[Outcome]] | None, messages: list[InboundMessage]
    ) -> list[Outcome]:
        if started is not None:
            try:
                return await started
            except BrokenProcessPool:
                log.warning("triage worker died; triaging this batch in the event loop")
                self._discard()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # The worker was replaced (rules reloaded) before it got to this batch.
        return triage_all(self._rules.current, messages)

    def close(self) -> None:
        self._discard()
