"""The router's Prometheus metrics: bounded labels only."""

from prometheus_client import Counter, Histogram

ROUTED = Counter(
    "switchboard_router_routed_total",
    "Messages routed into tickets, by channel, priority and skill group.",
    ["channel", "priority", "skill_group"],
)
MESSAGES = Counter(
    "switchboard_router_messages_total",
    "Inbound records consumed, by outcome (routed, duplicate, dead_lettered).",
    ["outcome"],
)
REDACTIONS = Counter(
    "switchboard_router_redactions_total",
    "Values redacted from stored messages, by kind.",
    ["kind"],
)
BATCH_SECONDS = Histogram(
    "switchboard_router_batch_duration_seconds",
    "Time to route one consumed batch (triage, store, publish).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RULES_RELOADS = Counter(
    "switchboard_router_rules_reloads_total",
    "Rule reloads on SIGHUP, by outcome (ok, invalid).",
    ["outcome"],
)
CLAIMS = Counter(
    "switchboard_router_claims_total",
    "Queue claims by skill group and outcome (claimed, empty, at_capacity).",
    ["skill_group", "outcome"],
)
LIFECYCLE = Counter(
    "switchboard_router_lifecycle_events_total",
    "Lifecycle events accepted from agents, by type.",
    ["type"],
)
