"""The SLA engine: events in, clocks recomputed, escalations fired once.

Delivery rule for escalations: a rung fires by inserting its dedupe key into the ledger
(``sla_escalations``) in the same transaction that removes its timer; only the process whose
insert succeeded publishes it. Two replicas, or a restart, can race for a rung; the primary
key lets exactly one win. A crash between commit and publish leaves an unpublished ledger row,
which the relay publishes once it has read the topic's tail and found the event missing
(the process may have died after the broker acknowledged it). Publishing, by the firing process
or by a relay, happens under a row lock taken with SKIP LOCKED, so two live processes never
publish the same row. The timer queue sleeps until the next rung and never scans.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from services.sla import store
from services.sla.clocks import TicketClocks, event_from_lifecycle, events_from_routed
from services.sla.ladder import escalation_steps
from services.sla.metrics import (
    AT_RISK,
    BREACHES,
    ESCALATIONS,
    FIRST_RESPONSE,
    LATENESS,
    RESOLUTION,
    TIMERS,
)
from services.sla.policy import Policy, TicketFacts
from services.sla.store import Timer
from services.sla.timers import TimerQueue
from shared.dead_letters import publish_dead_letters
from shared.kafka_consumer import Record
from shared.kafka_producer import ResilientProducer
from shared.kafka_scan import ids_published_since
from shared.models import Escalation, TicketLifecycle, TicketRouted
from shared.topics import ESCALATIONS as ESCALATIONS_TOPIC
from shared.topics import LIFECYCLE, ROUTED, SLA_DEAD_LETTERS

log = logging.getLogger(__name__)
_routed = msgspec.json.Decoder(TicketRouted).decode
_lifecycle = msgspec.json.Decoder(TicketLifecycle).decode
_escalation = msgspec.json.Decoder(Escalation).decode
_encode = msgspec.json.Encoder().encode
_ESCALATION_NS = uuid.UUID("9d7e2a52-3f0b-4c1e-8a44-5b6c7d8e9f01")
REFRESH_EVERY_S = 5.0
# Rungs fired per transaction: a burst (an outage's worth of due timers) goes out in chunks.
FIRE_CHUNK = 1000
FIRE_IN_FLIGHT = 1
# Rungs due further out than this stay in PostgreSQL: memory and start time do not grow with
# the number of open tickets, only with what falls due soon.
HORIZON = timedelta(minutes=10)
# A ledger row this old and still unpublished belongs to a process that died mid-publish.
ORPHAN_AFTER_S = 5.0


def _escalation_id(value: bytes) -> str | None:
    try:
        return _escalation(value).escalation_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class SlaEngine:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: ResilientProducer,
        policy: Policy,
        *,
        bootstrap_servers: str | None = None,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.policy = policy
        # The ladder's first rung (no earlier one to wait for) and its first breach rung.
        self._first_level = min((r.level for r in policy.ladder), default=0)
        self._first_breach = min(
            (r.level for r in policy.ladder if r.kind == "breached"), default=None
        )
        # Where the relay reads back what was published; None (unit tests) trusts the ledger.
        self.bootstrap_servers = bootstrap_servers
        self.timers: TimerQueue[str] = TimerQueue()
        self._pending: dict[str, Timer] = {}
        # Rungs this process claimed in the ledger and is publishing, by ticket: not orphans.
        self._claimed: dict[uuid.UUID, set[str]] = {}
        self._by_ticket: dict[uuid.UUID, set[str]] = {}
        self._last_refresh: datetime | None = None
        self._horizon_end: datetime | None = None

    # -- consuming -------------------------------------------------------------------------

    async def handle(self, records: list[Record]) -> None:
        facts: dict[uuid.UUID, tuple[TicketFacts, datetime]] = {}
        events: list[tuple[uuid.UUID, object]] = []
        dead: list[tuple[Record, str]] = []
        for record in records:
            try:
                if record.topic == ROUTED:
                    routed = _routed(record.value or b"")
                    tid = uuid.UUID(routed.ticket_id)
                    facts[tid] = (TicketFacts.from_routed(routed), routed.ticket_created_at)
                    events.extend((tid, e) for e in events_from_routed(routed))
                elif record.topic == LIFECYCLE:
                    lifecycle = _lifecycle(record.value or b"")
                    events.append((uuid.UUID(lifecycle.ticket_id), event_from_lifecycle(lifecycle)))
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
                dead.append((record, "invalid_event"))
        ticket_ids = list({tid for tid, _ in events} | set(facts))
        if ticket_ids:
            async with self.pool.acquire() as conn, conn.transaction():
                await store.save_events(conn, facts, events)  # type: ignore[arg-type]
                timers = await self._recompute(conn, ticket_ids, datetime.now(UTC))
            self._schedule(ticket_ids, timers)
        await publish_dead_letters(self.producer, "sla", SLA_DEAD_LETTERS, dead)

    async def _recompute(
        self, conn: asyncpg.Connection, ticket_ids: list[uuid.UUID], now: datetime
    ) -> list[Timer]:
        loaded = await store.load_tickets(conn, ticket_ids)
        before = await store.previous_states(conn, list(loaded))
        views = []
        statuses: dict[uuid.UUID, str] = {}
        timers: list[Timer] = []
        for tid, (facts, events) in loaded.items():
            clocks = TicketClocks(events)
            statuses[tid] = clocks.status
            for view in clocks.views(self.policy, facts, now).values():
                views.append((tid, view))
                if view.state == "stopped" and before.get((tid, view.target)) not in (
                    None,
                    "stopped",
                ):
                    self._observe_stop(facts, view.target, view.business_elapsed)
                for step in escalation_steps(view, self.policy):
                    timers.append(Timer(step.dedupe_key(str(tid)), tid, step, facts))
        await store.save_clocks(conn, views, statuses)
        return await store.replace_timers(conn, list(loaded), timers)

    @staticmethod
    def _observe_stop(facts: TicketFacts, target: str, elapsed: timedelta) -> None:
        if target == "first_response":
            FIRST_RESPONSE.labels(facts.priority, facts.channel).observe(elapsed.total_seconds())
        elif target == "resolution":
            RESOLUTION.labels(facts.priority, facts.skill_group).observe(elapsed.total_seconds())

    def _schedule(self, ticket_ids: list[uuid.UUID], timers: list[Timer]) -> None:
        for tid in ticket_ids:
            for key in self._by_ticket.pop(tid, ()):
                self.timers.cancel(key)
                self._pending.pop(key, None)
        for timer in timers:
            if self._horizon_end is None or timer.step.fire_at < self._horizon_end:
                self._add(timer)
        TIMERS.set(len(self.timers))

    def _add(self, timer: Timer) -> None:
        self._pending[timer.dedupe_key] = timer
        self._by_ticket.setdefault(timer.ticket_id, set()).add(timer.dedupe_key)
        self.timers.schedule(timer.dedupe_key, timer.step.fire_at)

    def _take(self, key: str) -> Timer | None:
        timer = self._pending.pop(key, None)
        if timer is not None:
            keys = self._by_ticket.get(timer.ticket_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_ticket[timer.ticket_id]
        return timer

    # -- timers ----------------------------------------------------------------------------

    async def refresh(self) -> int:
        """Pick up timers written by other replicas, and those the horizon now reaches."""
        started = datetime.now(UTC)
        until = started + HORIZON
        async with self.pool.acquire() as conn:
            timers = await store.load_timers(
                conn,
                until,
                None if self._last_refresh is None else self._last_refresh - timedelta(seconds=1),
                self._horizon_end,
            )
        for timer in timers:
            if timer.dedupe_key not in self._pending:
                self._add(timer)
        self._last_refresh = started
        self._horizon_end = until
        TIMERS.set(len(self.timers))
        return len(timers)

    async def run_timers(self) -> None:
        # Up to FIRE_IN_FLIGHT chunks at once (1: a ticket's ladder must publish in order; more
        # would overlap one chunk's Kafka round trip with the next one's ledger insert).
        # A shutdown lets the chunks in hand finish (commit and publish)
        # instead of leaving them to a relay.
        in_flight: set[asyncio.Task[int]] = set()
        try:
            while True:
                due = await self.timers.due()
                for start in range(0, len(due), FIRE_CHUNK):
                    while len(in_flight) >= FIRE_IN_FLIGHT:
                        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    keys = [k for k, _ in due[start : start + FIRE_CHUNK]]
                    task = asyncio.create_task(self.fire(keys))
                    in_flight.add(task)
                    task.add_done_callback(self._fired)
                    task.add_done_callback(in_flight.discard)
        except asyncio.CancelledError:
            if in_flight:
                await asyncio.wait(in_flight, timeout=20)
            raise

    @staticmethod
    def _fired(task: asyncio.Task[int]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            # fire() has put the rungs back a second later; nothing else to do here.
            log.error("firing escalations failed; will retry", exc_info=exc)

    async def fire(self, keys: list[str]) -> int:
        timers = [t for t in map(self._take, keys) if t is not None]
        TIMERS.set(len(self.timers))
        if not timers:
            return 0
        try:
            return await self._fire(timers)
        except BaseException:
            # Not committed: the rungs stay due (a second later) in this process.
            for t in timers:
                if t.dedupe_key not in self._pending:
                    self._add(t)
                    self.timers.schedule(t.dedupe_key, datetime.now(UTC) + timedelta(seconds=1))
            raise

    async def _fire(self, timers: list[Timer]) -> int:
        now = datetime.now(UTC)
        rows = [(t, _encode(escalation_for(t, now))) for t in timers]
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = {
                r["dedupe_key"]
                for r in await conn.fetch(
                    """
                    WITH wanted AS (
                        DELETE FROM sla_timers USING unnest($1::text[]) AS u(k)
                        WHERE sla_timers.dedupe_key = u.k RETURNING dedupe_key
                    )
                    INSERT INTO sla_escalations (dedupe_key, ticket_id, target, level, cycle, kind,
                        escalate_to, due_at, fire_at, emitted_at, value)
                    SELECT k, t, tg, l, c, kd, e, d, f, $11, v
                    FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::text[],
                                $7::text[], $8::timestamptz[], $9::timestamptz[], $10::bytea[])
                         AS x(k, t, tg, l, c, kd, e, d, f, v)
                    WHERE k IN (SELECT dedupe_key FROM wanted)
                    ON CONFLICT (dedupe_key) DO NOTHING
                    RETURNING dedupe_key
                    """,
                    [t.dedupe_key for t, _ in rows],
                    [t.ticket_id for t, _ in rows],
                    [t.step.target for t, _ in rows],
                    [t.step.level for t, _ in rows],
                    [t.step.cycle for t, _ in rows],
                    [t.step.kind for t, _ in rows],
                    [t.step.escalate_to for t, _ in rows],
                    [t.step.due_at for t, _ in rows],
                    [t.step.fire_at for t, _ in rows],
                    [v for _, v in rows],
                    now,
                )
            }
        won = [(t, v) for t, v in rows if t.dedupe_key in inserted]
        for t, _ in won:
            self._claimed.setdefault(t.ticket_id, set()).add(t.dedupe_key)
        try:
            await self._publish(won)
        finally:
            for t, _ in won:
                claimed = self._claimed[t.ticket_id]
                claimed.discard(t.dedupe_key)
                if not claimed:
                    del self._claimed[t.ticket_id]
        self._count(won, now)
        return len(won)

    def _count(self, won: list[tuple[Timer, bytes]], now: datetime) -> None:
        # Aggregated per label set: one labels() lookup per kind of rung, not per rung.
        first_breach = self._first_breach
        escalations: Counter[tuple[str, str, str]] = Counter()
        headline: Counter[tuple[str, str, str, str]] = Counter()
        for t, _ in won:
            LATENESS.observe(max((now - t.step.fire_at).total_seconds(), 0.0))
            escalations[str(t.step.level), t.step.kind, t.step.target] += 1
            if t.step.kind == "at_risk" or t.step.level == (first_breach or t.step.level):
                headline[t.step.kind, t.step.target, t.facts.priority, t.facts.skill_group] += 1
        for labels, n in escalations.items():
            ESCALATIONS.labels(*labels).inc(n)
        for (kind, target, priority, skill), n in headline.items():
            (AT_RISK if kind == "at_risk" else BREACHES).labels(target, priority, skill).inc(n)

    async def _publish(self, won: list[tuple[Timer, bytes]]) -> None:
        if not won:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            # An earlier rung of the same ticket whose publisher died (claimed, never marked)
            # goes first, so that a ticket's ladder reaches the topic in order; the relay would
            # publish it only after ORPHAN_AFTER_S, behind the rungs fired meanwhile. Only a
            # rung after the first has an earlier one; rows a live publisher holds are skipped
            # (it is publishing them), and so are this process's own claims.
            later = list({t.ticket_id for t, _ in won if t.step.level > self._first_level})
            if later:
                earlier = await conn.fetch(
                    """
                    SELECT dedupe_key, ticket_id, value, emitted_at FROM sla_escalations
                    WHERE published_at IS NULL AND ticket_id = ANY($1::uuid[])
                      AND NOT (dedupe_key = ANY($2::text[]))
                    ORDER BY emitted_at FOR UPDATE SKIP LOCKED
                    """,
                    later,
                    [key for ticket in later for key in self._claimed.get(ticket, ())],
                )
                if earlier:
                    await self._send_missing(earlier)
                    await _mark_published(conn, [r["dedupe_key"] for r in earlier])
            # Marking first takes the row locks: a relay holding one makes us wait and then see
            # it published, so those rows are skipped; a failed send rolls the marks back.
            mine = {
                r["dedupe_key"]
                for r in await conn.fetch(
                    """
                    UPDATE sla_escalations e SET published_at = now()
                    FROM unnest($1::text[]) AS u(k)
                    WHERE e.dedupe_key = u.k AND e.published_at IS NULL
                    RETURNING e.dedupe_key
                    """,
                    [t.dedupe_key for t, _ in won],
                )
            }
            await self.producer.send_many(
                [
                    (ESCALATIONS_TOPIC, str(t.ticket_id).encode(), v)
                    for t, v in won
                    if t.dedupe_key in mine
                ]
            )

    async def _send_missing(self, rows: list[asyncpg.Record]) -> int:
        """Publish ledger rows whose publisher died, in order, unless the topic shows they did
        land (it died after the send, before its mark was committed)."""
        landed: set[str] = set()
        if self.bootstrap_servers is not None:
            landed = await ids_published_since(
                self.bootstrap_servers,
                ESCALATIONS_TOPIC,
                min(r["emitted_at"] for r in rows),
                _escalation_id,
            )
        missing = [
            r for r in rows if str(uuid.uuid5(_ESCALATION_NS, r["dedupe_key"])) not in landed
        ]
        await self.producer.send_many(
            [(ESCALATIONS_TOPIC, str(r["ticket_id"]).encode(), bytes(r["value"])) for r in missing]
        )
        return len(missing)

    async def relay_once(self) -> int:
        """Publish ledger rows whose publisher died, unless the topic shows they did land."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                SELECT dedupe_key, ticket_id, value, emitted_at FROM sla_escalations
                WHERE published_at IS NULL AND emitted_at < now() - make_interval(secs => $1)
                ORDER BY emitted_at LIMIT 500 FOR UPDATE SKIP LOCKED
                """,
                ORPHAN_AFTER_S,
            )
            if not rows:
                return 0
            published = await self._send_missing(rows)
            await _mark_published(conn, [r["dedupe_key"] for r in rows])
        log.warning(
            "relayed orphaned escalations",
            extra={"published": published, "already_on_topic": len(rows) - published},
        )
        return published

    async def maintain(self) -> None:
        """Every few seconds: adopt other replicas' timers, publish orphaned ledger rows."""
        while True:
            await asyncio.sleep(REFRESH_EVERY_S)
            try:
                await self.refresh()
                await self.relay_once()
            except Exception:
                log.exception("sla maintenance round failed")


def escalation_for(timer: Timer, emitted_at: datetime) -> Escalation:
    """The event a rung publishes; its id is derived from the rung, so a re-send is recognisable."""
    return Escalation(
        escalation_id=str(uuid.uuid5(_ESCALATION_NS, timer.dedupe_key)),
        ticket_id=str(timer.ticket_id),
        level=timer.step.level,
        kind=timer.step.kind,
        target=timer.step.target,
        escalate_to=timer.step.escalate_to,
        due_at=timer.step.due_at,
        emitted_at=emitted_at,
        priority=timer.facts.priority,
        skill_group=timer.facts.skill_group,
        channel=timer.facts.channel,
    )


async def _mark_published(conn: asyncpg.Connection, keys: list[str]) -> None:
    await conn.execute(
        """
        UPDATE sla_escalations SET published_at = now()
        FROM unnest($1::text[]) AS u(k) WHERE dedupe_key = u.k
        """,
        keys,
    )
