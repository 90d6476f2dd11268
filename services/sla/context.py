"""Typed application keys of the SLA service."""

import asyncpg
from aiohttp import web

from services.sla.engine import SlaEngine

POOL = web.AppKey("pool", asyncpg.Pool)
ENGINE = web.AppKey("engine", SlaEngine)
