"""Typed application keys of the intake."""

from aiohttp import web

from services.intake.dedupe import RecentlyAcked
from shared.kafka_producer import ResilientProducer
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
PRODUCER = web.AppKey("producer", ResilientProducer)
DEDUPE = web.AppKey("dedupe", RecentlyAcked)
