"""What the intake's handlers share: settings, producer, retry memory, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from services.intake.dedupe import RecentlyAcked
from services.intake.tokens import TokenScopes
from shared.kafka_producer import ResilientProducer
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class IntakeContext:
    settings: Settings
    producer: ResilientProducer
    dedupe: RecentlyAcked
    tokens: TokenScopes
    openapi_json: bytes
