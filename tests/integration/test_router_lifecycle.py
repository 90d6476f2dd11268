"""Lifecycle events against the real database: the transition rule holds under concurrency.

``record_event`` checks the ticket's status under its row lock; these tests post the same
event from many connections at once and check that exactly one of them changed the ticket.
Tickets are seeded straight into the store and removed afterwards, with their outbox rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.router.lifecycle import (
    CLOCK_SKEW,
    EventBeforeTicket,
    InvalidTransition,
    record_event,
)
from shared.db import create_pool

CONCURRENT = 8


@pytest.fixture
def seeded() -> list[uuid.UUID]:
    return []


@pytest.fixture
async def pool(infra_env: dict[str, str], seeded: list[uuid.UUID]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra_env["DATABASE_URL"], min_size=1, max_size=CONCURRENT)
    try:
        yield pool
    finally:
        async with pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE key = ANY($1::bytea[])",
                [str(t).encode() for t in seeded],
            )
            await conn.execute("DELETE FROM tickets WHERE ticket_id = ANY($1::uuid[])", seeded)
        await pool.close()


async def _seed(
    pool: asyncpg.Pool,
    seeded: list[uuid.UUID],
    status: str,
    *,
    agent: str | None = None,
    resolved_at: datetime | None = None,
) -> tuple[uuid.UUID, datetime]:
    ticket_id = uuid.uuid4()
    since = datetime.now(UTC) - timedelta(hours=2)
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO tickets (ticket_id, conversation_key, status, channel, priority,
                skill_group, intent, language, reasons, redacted, assigned_agent, created_at,
                updated_at, waiting_since, resolved_at)
            VALUES ($1, $2, $3, 'chat', 'P3', 'general', 'test.seeded', 'en', '[]', false, $4,
                $5, $5, $5, $6)
            """,
            ticket_id,
            f"test:{ticket_id}",
            status,
            agent,
            since,
            resolved_at,
        )
    seeded.append(ticket_id)
    return ticket_id, since


async def _post_all(pool: asyncpg.Pool, ticket_id: uuid.UUID, kind: str) -> list[object]:
    """The same event from CONCURRENT agents at once; each result is an outbox id or the error."""

    async def one(i: int) -> object:
        async with pool.acquire() as conn:
            try:
                _, outbox_id, _ = await record_event(
                    conn, ticket_id, kind, f"agent-{i}", datetime.now(UTC), datetime.now(UTC)
                )
            except InvalidTransition as exc:
                return exc
            return outbox_id

    return list(await asyncio.gather(*(one(i) for i in range(CONCURRENT))))


async def _ticket(pool: asyncpg.Pool, ticket_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM tickets WHERE ticket_id = $1", ticket_id)
    assert row is not None
    return row


async def _outbox_rows(pool: asyncpg.Pool, ticket_id: uuid.UUID, ids: list[int]) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1 AND id = ANY($2::bigint[])",
            str(ticket_id).encode(),
            ids,
        )
    return count


async def test_concurrent_reopens_of_a_resolved_ticket_reopen_it_once(
    pool: asyncpg.Pool, seeded: list[uuid.UUID]
) -> None:
    resolved_at = datetime.now(UTC) - timedelta(minutes=30)
    ticket_id, since = await _seed(pool, seeded, "resolved", resolved_at=resolved_at)
    results = await _post_all(pool, ticket_id, "reopened")
    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    assert len(accepted) == 1, results
    assert len(refused) == CONCURRENT - 1
    assert {e.status for e in refused} == {"waiting"}
    row = await _ticket(pool, ticket_id)
    assert row["status"] == "waiting" and row["resolved_at"] is None
    assert row["waiting_since"] > since  # reopened once: back of the queue, once
    assert await _outbox_rows(pool, ticket_id, accepted) == 1


async def test_reopening_a_waiting_ticket_keeps_its_place_in_the_queue(
    pool: asyncpg.Pool, seeded: list[uuid.UUID]
) -> None:
    ticket_id, since = await _seed(pool, seeded, "waiting")
    results = await _post_all(pool, ticket_id, "reopened")
    assert all(isinstance(r, InvalidTransition) for r in results), results
    row = await _ticket(pool, ticket_id)
    assert row["status"] == "waiting" and row["waiting_since"] == since


@pytest.mark.parametrize("kind", ["first_response", "waiting_on_customer"])
async def test_a_resolved_ticket_takes_no_answer_or_wait(
    pool: asyncpg.Pool, seeded: list[uuid.UUID], kind: str
) -> None:
    resolved_at = datetime.now(UTC) - timedelta(minutes=5)
    ticket_id, _ = await _seed(pool, seeded, "resolved", agent="agent-0", resolved_at=resolved_at)
    results = await _post_all(pool, ticket_id, kind)
    assert all(isinstance(r, InvalidTransition) for r in results), results
    row = await _ticket(pool, ticket_id)
    assert row["status"] == "resolved" and row["resolved_at"] == resolved_at
    assert row["first_response_at"] is None


async def test_concurrent_resolutions_resolve_once_and_a_retry_is_a_no_op(
    pool: asyncpg.Pool, seeded: list[uuid.UUID]
) -> None:
    ticket_id, _ = await _seed(pool, seeded, "assigned", agent="agent-0")
    results = await _post_all(pool, ticket_id, "resolved")
    accepted = [r for r in results if isinstance(r, int)]
    assert len(accepted) == 1, results
    row = await _ticket(pool, ticket_id)
    assert row["status"] == "resolved"
    async with pool.acquire() as conn:
        _, outbox_id, _ = await record_event(
            conn, ticket_id, "resolved", "agent-0", row["resolved_at"], datetime.now(UTC)
        )
    assert outbox_id is None
    assert (await _ticket(pool, ticket_id))["updated_at"] == row["updated_at"]


async def test_an_event_from_before_the_ticket_existed_is_refused(
    pool: asyncpg.Pool, seeded: list[uuid.UUID]
) -> None:
    ticket_id, created = await _seed(pool, seeded, "waiting")
    async with pool.acquire() as conn:
        with pytest.raises(EventBeforeTicket):
            await record_event(
                conn,
                ticket_id,
                "first_response",
                "agent-0",
                created - CLOCK_SKEW - timedelta(seconds=1),
                datetime.now(UTC),
            )
        # Within the clock-skew allowance it is taken.
        _, outbox_id, _ = await record_event(
            conn, ticket_id, "first_response", "agent-0", created - timedelta(minutes=1), created
        )
    assert outbox_id is not None
    assert (await _ticket(pool, ticket_id))["first_response_at"] == created - timedelta(minutes=1)
