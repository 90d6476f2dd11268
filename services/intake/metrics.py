"""The intake's Prometheus metrics: bounded labels only (channel, outcome)."""

from prometheus_client import Counter, Gauge

MESSAGES = Counter(
    "switchboard_intake_messages_total",
    "Inbound messages by channel and outcome.",
    ["channel", "outcome"],
)
PRODUCER_ERRORS = Counter(
    "switchboard_intake_producer_errors_total",
    "Sends that Kafka did not acknowledge in time (answered 503).",
)
IN_FLIGHT = Gauge(
    "switchboard_intake_in_flight_records",
    "Records handed to the producer and not yet acknowledged.",
)
