"""Typed application keys of the intake."""

from aiohttp import web

from services.intake.dedupe import RecentlyAcked
from services.intake.tokens import TokenScopes
from shared.kafka_producer import ResilientProducer
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
PRODUCER = web.AppKey("producer", ResilientProducer)
DEDUPE = web.AppKey("dedupe", RecentlyAcked)
TOKENS = web.AppKey("tokens", TokenScopes)
OPENAPI_JSON = web.AppKey("openapi_json", bytes)
