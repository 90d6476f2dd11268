"""SPEC §4: each escalation is published once per ticket, target and level, across restarts and
with two SLA replicas.

The stack's sla service is stopped (it must not run beside replicas with another policy), two SLA
processes run the packaged policy plus short targets for this test's tickets
(tests/fixtures/sla/short_targets.yaml), tickets are created one every 0.1 s by producing
`tickets.routed.v1` events, so that escalations fall due continuously for about 25 s. Meanwhile
one replica is restarted gracefully (SIGTERM) and later the other one is killed (SIGKILL) and
started again. Every expected escalation must then be on `sla.escalations.v1` exactly once, not
early, with the right deadline, and the ledger must say it was published. The stack's sla
service is started again at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from services.sla.policy import DEFAULT_POLICY_PATH, TicketFacts, load_policy
from shared.models import CHANNELS, PRIORITIES, SKILL_GROUPS, Escalation, TicketRouted
from shared.topics import ESCALATIONS, ROUTED
from tests.integration.procs import (
    ROOT,
    Records,
    ServiceProcess,
    end_offsets,
    owned,
    read_topic,
    run_native,
    service_env,
)

OVERLAY = ROOT / "tests" / "fixtures" / "sla" / "short_targets.yaml"
INTENT = "sla_test.short_targets"
TICKETS = 50
CREATE_EVERY_S = 0.1
REPLICA_PORTS = (18091, 18092)
TERM_AT_S = 7.0  # after the first ticket was created: first at-risk rungs fire from 4.8 s
KILL_AT_S = 14.0
# Escalations fire when due, so never before their instant; allow for clock reading only.
EARLY_TOLERANCE = timedelta(milliseconds=50)
_routed = msgspec.json.Encoder().encode
_escalation = msgspec.json.Decoder(Escalation).decode


def write_policy(folder: Path) -> Path:
    """The packaged policy with the overlay's rules appended, as one file for SLA_POLICY."""
    policy: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    overlay: dict[str, Any] = yaml.safe_load(OVERLAY.read_text(encoding="utf-8"))
    policy["rules"] = [*policy["rules"], *overlay["rules"]]
    path = folder / "sla-short-targets.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def ticket_events(now: datetime, ticket_id: str, i: int) -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        message_id=str(uuid.uuid4()),
        channel=CHANNELS[i % len(CHANNELS)],
        priority=PRIORITIES[i % len(PRIORITIES)],
        skill_group=SKILL_GROUPS[i % len(SKILL_GROUPS)],
        intent=INTENT,
        language="en",
        ticket_created_at=now,
        routed_at=now,
        change="created",
    )


async def create_tickets(bootstrap: str, ticket_ids: list[str]) -> dict[str, datetime]:
    """One ticket every CREATE_EVERY_S, created 'now'; returns each ticket's creation time."""
    created: dict[str, datetime] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i, tid in enumerate(ticket_ids):
            now = datetime.now(UTC)
            await producer.send_and_wait(
                ROUTED, key=tid.encode(), value=_routed(ticket_events(now, tid, i))
            )
            created[tid] = now
            await asyncio.sleep(CREATE_EVERY_S)
    finally:
        await producer.stop()
    return created


async def restarts(replicas: list[ServiceProcess], t0: float) -> list[str]:
    """SIGTERM and restart one replica, later SIGKILL and restart the other; returns a log."""
    log: list[str] = []
    graceful, crashed = replicas
    await asyncio.sleep(max(t0 + TERM_AT_S - time.monotonic(), 0))
    sent = time.monotonic()
    code = await graceful.stop(timeout=25)
    log.append(
        f"{graceful.name} SIGTERM at {sent - t0:.1f}s, exit {code} after"
        f" {time.monotonic() - sent:.1f}s"
    )
    graceful.start()
    ready = await graceful.wait_ready(60)
    log.append(f"{graceful.name} ready again after {ready:.1f}s")
    await asyncio.sleep(max(t0 + KILL_AT_S - time.monotonic(), 0))
    await crashed.kill()
    log.append(f"{crashed.name} SIGKILL at {time.monotonic() - t0:.1f}s")
    crashed.start()
    ready = await crashed.wait_ready(60)
    log.append(f"{crashed.name} ready again after {ready:.1f}s")
    return log


def test_the_overlay_changes_only_the_test_tickets(tmp_path: Path) -> None:
    packaged, merged = load_policy(), load_policy(write_policy(tmp_path))
    assert merged.ladder == packaged.ladder and merged.at_risk_share == packaged.at_risk_share
    for combo in itertools.product(PRIORITIES, CHANNELS, SKILL_GROUPS):
        assert merged.targets_for(TicketFacts(*combo)) == packaged.targets_for(TicketFacts(*combo))
        short = merged.targets_for(TicketFacts(*combo, intent=INTENT))
        assert short["first_response"].duration == timedelta(seconds=6)
        assert short["resolution"].duration == timedelta(seconds=12)
        assert {t.calendar for t in short.values()} == {"24x7"}


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_each_escalation_is_published_once_across_restarts_and_replicas(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    policy_path = write_policy(tmp_path)
    policy = load_policy(policy_path)
    replicas = [
        ServiceProcess("sla", port, service_env(stack_env, port, SLA_POLICY=str(policy_path)))
        for port in REPLICA_PORTS
    ]
    ticket_ids = [str(uuid.uuid4()) for _ in range(TICKETS)]
    wanted = set(ticket_ids)
    # (target, level) -> (kind, escalate_to, offset from creation, deadline from creation)
    rungs: dict[tuple[str, int], tuple[str, str, timedelta, timedelta]] = {}
    targets = policy.targets_for(TicketFacts("P3", "chat", "general", intent=INTENT))
    for name in ("first_response", "resolution"):  # next_response stays idle: no reply
        duration = targets[name].duration
        for step in policy.ladder:
            offset = step.offset(duration, policy.at_risk_share)
            rungs[name, step.level] = (step.kind, step.escalate_to, offset, duration)
    expected = len(rungs) * TICKETS
    last_due = max(offset for _, _, offset, _ in rungs.values())

    def ours(records: Records) -> list[tuple[int, int, Escalation]]:
        found = []
        for r in records:
            event = _escalation(r.value)
            if event.ticket_id in wanted:
                found.append((r.partition, r.offset, event))
        return found

    start = await end_offsets(bootstrap, ESCALATIONS)
    try:
        await run_native("services.sh", "stop", "sla", timeout=60)
        async with owned(replicas):
            for replica in replicas:
                replica.start()
            await asyncio.gather(*(r.wait_ready(60) for r in replicas))
            t0 = time.monotonic()
            created, log = await asyncio.gather(
                create_tickets(bootstrap, ticket_ids), restarts(replicas, t0)
            )
            records = await read_topic(
                bootstrap,
                ESCALATIONS,
                start=start,
                done=lambda rs: len(ours(rs)) >= expected,
                timeout=last_due.total_seconds() + 90,
                settle_s=6.0,  # longer than the relay's 5 s: a late republish would show
            )
            elapsed = time.monotonic() - t0
            for replica in replicas:
                assert replica.alive(), f"{replica.name} died"
    finally:
        await run_native("services.sh", "start", "sla", timeout=120)

    events = ours(records)
    per_rung = Counter((e.ticket_id, e.target, e.level) for _, _, e in events)
    duplicates = {k: n for k, n in per_rung.items() if n > 1}
    assert not duplicates, f"published more than once: {duplicates}"
    assert set(per_rung) == {(t, target, level) for t in ticket_ids for target, level in rungs}

    by_ticket: dict[str, dict[tuple[str, int], tuple[int, int, Escalation]]] = defaultdict(dict)
    for partition, offset, e in events:
        by_ticket[e.ticket_id][e.target, e.level] = (partition, offset, e)
        kind, escalate_to, fire_after, deadline = rungs[e.target, e.level]
        assert (e.kind, e.escalate_to) == (kind, escalate_to)
        born = created[e.ticket_id]
        facts = ticket_events(born, e.ticket_id, ticket_ids.index(e.ticket_id))
        assert (e.channel, e.priority, e.skill_group) == (
            facts.channel,
            facts.priority,
            facts.skill_group,
        )
        assert abs(e.due_at - (born + deadline)) < timedelta(milliseconds=1), e
        assert e.emitted_at >= born + fire_after - EARLY_TOLERANCE, f"fired early: {e}"
    inverted = 0
    for rungs_of in by_ticket.values():
        for target in ("first_response", "resolution"):
            ladder = [rungs_of[target, step.level] for step in policy.ladder]
            emitted = [e.emitted_at for _, _, e in ladder]
            assert emitted == sorted(emitted), f"a later rung was decided first: {ladder}"
            assert len({p for p, _, _ in ladder}) == 1  # keyed by ticket: one partition
            inverted += [o for _, o, _ in ladder] != sorted(o for _, o, _ in ladder)
    assert inverted == 0, f"{inverted} ladders published out of order on {ESCALATIONS}"

    conn: asyncpg.Connection = await asyncpg.connect(stack_env["DATABASE_URL"])
    try:
        ledger = await conn.fetch(
            "SELECT dedupe_key, published_at FROM sla_escalations"
            " WHERE ticket_id = ANY($1::uuid[])",
            [uuid.UUID(t) for t in ticket_ids],
        )
        left = await conn.fetchval(
            "SELECT count(*) FROM sla_timers WHERE ticket_id = ANY($1::uuid[])",
            [uuid.UUID(t) for t in ticket_ids],
        )
    finally:
        await conn.close()
    assert len(ledger) == expected
    assert all(r["published_at"] is not None for r in ledger)
    assert left == 0, "timers left for rungs that fired"
    print(
        f"\nsla exactly once: {TICKETS} tickets, {len(events)} escalations for {expected} rungs,"
        f" 0 duplicates, all on the topic {elapsed:.1f}s after the first ticket; " + "; ".join(log)
    )
