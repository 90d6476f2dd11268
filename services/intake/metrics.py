"""The intake's Prometheus metrics: bounded labels only (channel, outcome)."""

from functools import cache

from prometheus_client import Counter, Gauge

from shared.loop_metrics import CounterChild, LoopCounter

MESSAGES = LoopCounter(
    "switchboard_intake_messages_total",
    "Inbound messages by channel and outcome.",
    ["channel", "outcome"],
)
PRODUCER_ERRORS = Counter(
    "switchboard_intake_producer_errors_total",
    "Sends that Kafka did not acknowledge in time (answered 503).",
)
OUTCOMES = (
    "accepted",
    "duplicate",
    "invalid",
    "unauthorized",
    "forbidden",
    "too_large",
    "unsupported_media_type",
    "unavailable",
)
IN_FLIGHT = Gauge(
    "switchboard_intake_in_flight_records",
    "Records handed to the producer and not yet acknowledged.",
)


def declare_series(channels: tuple[str, ...]) -> None:
    """Export every channel × outcome at 0 from the start, so rate() sees the first event."""
    for channel in channels:
        for outcome in OUTCOMES:
            MESSAGES.labels(channel, outcome)


@cache
def outcome(channel: str, name: str) -> CounterChild:
    """The child counter of one channel × outcome, looked up once each.

    Channels are checked before this is called and outcomes are the fixed set above, so the
    cache stays as small as the series it names.
    """
    return MESSAGES.labels(channel, name)
