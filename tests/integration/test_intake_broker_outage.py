"""SPEC §2: with Kafka unreachable the intake answers 503 with Retry-After within a bounded time,
never 202 for a message that is not in Kafka, and recovers by itself once Kafka is back.

The stack's real broker is stopped (`deploy/native/kafka.sh stop`) while a stream of distinct
chat messages is posted, and started again; Kafka is running again when the test ends, whatever
happened. Afterwards every message that got a 202 must be in `inbound.messages.v1`, and the
router and SLA services must be ready again without anyone restarting them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import msgspec
import pytest

from services.intake.channels.chat import external_id
from shared.models import message_id_for
from shared.topics import INBOUND
from tests.integration.procs import ProcessFailed, Records, read_topic, run_native, wait_ready

SEND_TIMEOUT_S = 5.0  # KAFKA_SEND_TIMEOUT_S of the stack's intake (the default)
ANSWER_WITHIN_S = 3 * SEND_TIMEOUT_S  # a 503 may include one producer rebuild
DOWN_FOR_S = 12.0
RECOVER_WITHIN_S = 60.0
READY_WITHIN_S = 60.0
SENDERS = 3


class _Envelope(msgspec.Struct):
    message_id: str


_decode = msgspec.json.Decoder(_Envelope).decode


@dataclass(frozen=True)
class Answer:
    phase: str
    message_id: str
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    content_type: str
    answered_id: str | None
    sent_at: float
    seconds: float


@dataclass
class Stream:
    """Distinct chat messages posted by a few senders until ``stop``; every answer is kept."""

    url: str
    token: str
    run: str
    phase: str = "before"
    count: int = 0

    def __post_init__(self) -> None:
        self.answers: list[Answer] = []
        self.stop = asyncio.Event()

    def _next(self) -> tuple[dict[str, str], str]:
        self.count += 1
        session, client_id = f"outage-{self.run}-{self.count}", f"m{self.count}"
        text = f"my top-up number {self.count} has not arrived"
        body = {"session_id": session, "message_id": client_id, "text": text}
        return body, message_id_for(
            "chat", external_id(session, client_id, None, text, datetime.now(UTC))
        )

    async def _sender(self, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            body, message_id = self._next()
            phase, started = self.phase, time.monotonic()
            try:
                async with http.post(
                    f"{self.url}/v1/inbound/chat",
                    json=body,
                    headers={"Authorization": f"Bearer {self.token}"},
                ) as resp:
                    data = await resp.json(content_type=None)
                    answer = Answer(
                        phase,
                        message_id,
                        resp.status,
                        resp.headers.get("Retry-After"),
                        resp.content_type,
                        data.get("message_id") if isinstance(data, dict) else None,
                        started,
                        time.monotonic() - started,
                    )
            except (aiohttp.ClientError, TimeoutError):
                answer = Answer(
                    phase, message_id, 0, None, "", None, started, time.monotonic() - started
                )
            self.answers.append(answer)
            await asyncio.sleep(0.2)

    async def run_senders(self) -> None:
        timeout = aiohttp.ClientTimeout(total=4 * ANSWER_WITHIN_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await asyncio.gather(*(self._sender(http) for _ in range(SENDERS)))

    async def wait_for(self, status: int, since: float, timeout: float) -> float:
        """Seconds from ``since`` until a request sent after ``since`` got ``status``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [a for a in self.answers if a.sent_at >= since and a.status == status]
            if hits:
                return min(a.sent_at + a.seconds for a in hits) - since
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {status} within {timeout}s; last: {self.answers[-3:]}")


async def flows_through(env: dict[str, str], message_id: str, timeout: float) -> float:
    """Seconds until the router holds the message in a ticket and the SLA service clocks it."""
    started = time.monotonic()
    deadline = started + timeout
    headers = {"Authorization": f"Bearer {env['AGENT_TOKEN']}"}
    ticket_id: str | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            if ticket_id is None:
                async with http.get(
                    f"{env['ROUTER_URL']}/v1/tickets",
                    params={"message_id": message_id},
                    headers=headers,
                ) as resp:
                    if resp.status == 200:
                        ticket_id = (await resp.json())["ticket_id"]
            if ticket_id is not None:
                async with http.get(f"{env['SLA_URL']}/v1/sla/tickets/{ticket_id}") as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            await asyncio.sleep(0.3)
    where = "the router" if ticket_id is None else "the SLA service"
    raise AssertionError(f"message {message_id} did not reach {where} within {timeout}s")


async def restore_consumers(env: dict[str, str]) -> None:
    """Restart a stack service that did not come back by itself, so that the tests after this
    one find a working stack (this test has failed already when it had to)."""
    for service in ("router", "sla"):
        try:
            await wait_ready(f"{env[service.upper() + '_URL']}/readyz", 5)
        except ProcessFailed:
            await run_native("services.sh", "stop", service, timeout=60)
            await run_native("services.sh", "start", service, timeout=120)


@pytest.mark.slow
@pytest.mark.timeout(360)
async def test_intake_answers_503_while_kafka_is_down_and_recovers_by_itself(
    stack_env: dict[str, str],
) -> None:
    stream = Stream(stack_env["INTAKE_URL"], stack_env["INTAKE_TOKEN"], uuid.uuid4().hex[:12])
    senders = asyncio.create_task(stream.run_senders())
    kafka_stopped = False
    try:
        await stream.wait_for(202, time.monotonic(), timeout=30)

        stream.phase = "stopping"
        kafka_stopped = True
        await run_native("kafka.sh", "stop", timeout=90)
        stream.phase = "down"
        down_since = time.monotonic()
        await asyncio.sleep(DOWN_FOR_S)

        stream.phase = "starting"
        await run_native("kafka.sh", "start", timeout=180)
        kafka_stopped = False
        stream.phase = "after"
        back = time.monotonic()
        recovered_s = await stream.wait_for(202, back, timeout=RECOVER_WITHIN_S)
        await asyncio.sleep(1.0)  # a few more answers after recovery
    finally:
        stream.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(senders, 4 * ANSWER_WITHIN_S + 5)
        if not senders.done():
            senders.cancel()
        if kafka_stopped:
            await run_native("kafka.sh", "start", timeout=180)
    try:
        senders.result()  # a sender that crashed fails the test

        answers = stream.answers
        summary = Counter((a.phase, a.status) for a in answers)
        assert {a.status for a in answers} <= {202, 503}, summary
        for a in answers:
            assert a.seconds < ANSWER_WITHIN_S, f"answered after {a.seconds:.1f}s: {a}"
            if a.status == 503:
                assert a.retry_after is not None and int(a.retry_after) > 0, a
                assert a.content_type == "application/problem+json", a
            else:
                assert a.answered_id == a.message_id, a
        down = [a for a in answers if a.phase == "down" and a.sent_at >= down_since]
        assert len(down) >= SENDERS, f"too few requests while Kafka was down: {summary}"
        assert all(a.status == 503 for a in down), summary
        assert [a for a in answers if a.phase == "after" and a.status == 202]

        acked = {a.message_id for a in answers if a.status == 202}
        refused = {a.message_id for a in answers if a.status == 503}

        stored: set[str] = set()
        read = 0

        def all_acked_read(records: Records) -> bool:
            nonlocal read
            for r in records[read:]:
                with contextlib.suppress(msgspec.DecodeError, UnicodeDecodeError):
                    stored.add(_decode(r.value).message_id)
            read = len(records)
            return acked <= stored

        await read_topic(
            stack_env["KAFKA_BOOTSTRAP_SERVERS"],
            INBOUND,
            start=None,  # from the beginning: nothing acknowledged may be missing, wherever it is
            done=all_acked_read,
            timeout=60,
        )
        assert acked <= stored, f"acknowledged but not in Kafka: {sorted(acked - stored)}"

        # The consuming services come back by themselves: ready, and a message accepted after the
        # outage goes all the way through the router into the SLA service.
        router_s, sla_s = await asyncio.gather(
            wait_ready(f"{stack_env['ROUTER_URL']}/readyz", READY_WITHIN_S),
            wait_ready(f"{stack_env['SLA_URL']}/readyz", READY_WITHIN_S),
        )
        last = next(a for a in reversed(answers) if a.status == 202)
        flow_s = await flows_through(stack_env, last.message_id, timeout=90)

        print(
            f"\nintake outage: {dict(sorted(summary.items()))}; first 202 {recovered_s:.1f}s after"
            f" Kafka was ready; slowest answer {max(a.seconds for a in answers):.1f}s;"
            f" {len(acked)} acked, all in Kafka; {len(refused & stored)} of {len(refused)} refused"
            f" messages reached Kafka anyway; router ready after {router_s:.1f}s, sla {sla_s:.1f}s;"
            f" a message accepted after the outage was routed and clocked {flow_s:.1f}s later"
        )
    finally:
        await restore_consumers(stack_env)
