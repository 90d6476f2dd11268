"""PostgreSQL: one pool per service and versioned SQL migrations.

Migrations are the files ``shared/migrations/NNN_name.sql``, applied in order, each in its own
transaction, under an advisory lock so that several processes may run ``migrate`` at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)
_MIGRATION_LOCK = 0x5B0A4D


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_json_dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


def _json_dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """Connect, waiting a little for a database that is still starting."""
    for attempt in range(30):
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                command_timeout=30,
                init=_init_connection,
            )
            return pool
        except (OSError, asyncpg.CannotConnectNowError):
            if attempt == 29:
                raise
            await asyncio.sleep(1.0)
    raise RuntimeError("unreachable")


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("shared") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


async def migrate(dsn: str) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
            log.info("migration applied", extra={"migration": name})
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        await conn.close()
    return applied
