"""Typed application keys of the router."""

import asyncpg
from aiohttp import web

from services.router.rules import RulesHolder
from shared.kafka_producer import ResilientProducer
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
PRODUCER = web.AppKey("producer", ResilientProducer)
RULES = web.AppKey("rules", RulesHolder)
