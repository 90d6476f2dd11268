"""Kafka topic names (contract) and how the project creates them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

INBOUND = "inbound.messages.v1"
ROUTED = "tickets.routed.v1"
LIFECYCLE = "tickets.lifecycle.v1"
ESCALATIONS = "sla.escalations.v1"
ROUTER_DEAD_LETTERS = "router.deadletter.v1"
SLA_DEAD_LETTERS = "sla.deadletter.v1"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int = 7 * 24 * 3600 * 1000


TOPICS = (
    TopicSpec(INBOUND, 6),
    TopicSpec(ROUTED, 6),
    TopicSpec(LIFECYCLE, 6),
    TopicSpec(ESCALATIONS, 3),
    TopicSpec(ROUTER_DEAD_LETTERS, 1, 30 * 24 * 3600 * 1000),
    TopicSpec(SLA_DEAD_LETTERS, 1, 30 * 24 * 3600 * 1000),
)


async def ensure_topics(bootstrap_servers: str, replication_factor: int = 1) -> list[str]:
    """Create missing topics; existing ones are left as they are. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
            for spec in TOPICS
            if spec.name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        return [t.name for t in missing]
    finally:
        await admin.close()
