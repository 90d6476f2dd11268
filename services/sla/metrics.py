"""The SLA service's Prometheus metrics: bounded labels only."""

from prometheus_client import Counter, Gauge, Histogram

_DURATION_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 7 * 86400)

OPEN_TICKETS = Gauge(
    "switchboard_sla_open_tickets",
    "Open tickets by priority and skill group.",
    ["priority", "skill_group"],
)
OLDEST_WAIT = Gauge(
    "switchboard_sla_oldest_wait_seconds",
    "Age of the oldest ticket still waiting in a queue, by priority and skill group.",
    ["priority", "skill_group"],
)
AT_RISK_TICKETS = Gauge(
    "switchboard_sla_at_risk_tickets",
    "Open tickets with a running clock past its at-risk point.",
    ["priority", "skill_group"],
)
BREACHED_TICKETS = Gauge(
    "switchboard_sla_breached_tickets",
    "Open tickets with a running clock past its due time.",
    ["priority", "skill_group"],
)
MET_RATIO = Gauge(
    "switchboard_sla_met_ratio",
    "Share of clocks stopped in the last 24 hours that met their target.",
    ["target", "priority", "skill_group"],
)
FIRST_RESPONSE = Histogram(
    "switchboard_sla_first_response_seconds",
    "Business time from ticket creation to first response.",
    ["priority", "channel"],
    buckets=_DURATION_BUCKETS,
)
RESOLUTION = Histogram(
    "switchboard_sla_resolution_seconds",
    "Business time from ticket creation to resolution (pauses excluded).",
    ["priority", "skill_group"],
    buckets=_DURATION_BUCKETS,
)
AT_RISK = Counter(
    "switchboard_sla_at_risk_total",
    "At-risk warnings emitted.",
    ["target", "priority", "skill_group"],
)
BREACHES = Counter(
    "switchboard_sla_breaches_total", "Breaches emitted.", ["target", "priority", "skill_group"]
)
ESCALATIONS = Counter(
    "switchboard_sla_escalations_total", "Escalations published.", ["level", "kind", "target"]
)
LATENESS = Histogram(
    "switchboard_sla_escalation_lateness_seconds",
    "Emitted minus due: how late the timer engine fired.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TIMERS = Gauge("switchboard_sla_timers", "Escalation timers scheduled in this process.")
