"""Refresh the SLA gauges every few seconds from aggregate queries (never per scrape)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from services.sla import reports
from services.sla.metrics import (
    AT_RISK_TICKETS,
    BREACHED_TICKETS,
    MET_RATIO,
    OLDEST_WAIT,
    OPEN_TICKETS,
)
from shared.models import PRIORITIES, SKILL_GROUPS

log = logging.getLogger(__name__)
EVERY_S = 5.0


async def refresh_gauges(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        cells = await reports.summary(conn, now, timedelta(hours=24))
    for c in cells:
        labels = (c["priority"], c["skill_group"])
        OPEN_TICKETS.labels(*labels).set(c["open"])
        AT_RISK_TICKETS.labels(*labels).set(c["at_risk"])
        BREACHED_TICKETS.labels(*labels).set(c["breached"])
        OLDEST_WAIT.labels(*labels).set(c["oldest_wait_seconds"])
        for target, met in c["met"].items():
            MET_RATIO.labels(target, *labels).set(met["met"] / met["stopped"])


def zero_gauges() -> None:
    """Publish every series at 0 from the start, so dashboards and alerts see them exist."""
    for p in PRIORITIES:
        for g in SKILL_GROUPS:
            for gauge in (OPEN_TICKETS, AT_RISK_TICKETS, BREACHED_TICKETS, OLDEST_WAIT):
                gauge.labels(p, g).set(0)


async def gauges_forever(pool: asyncpg.Pool) -> None:
    while True:
        try:
            await refresh_gauges(pool)
        except (OSError, asyncpg.PostgresError):
            log.warning("gauge refresh failed; keeping the last values")
        await asyncio.sleep(EVERY_S)
