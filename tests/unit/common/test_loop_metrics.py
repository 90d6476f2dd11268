"""The lock-free series are exposed exactly as prometheus_client's own Counter and Histogram."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from shared.loop_metrics import LoopCounter, LoopHistogram

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.5, 1, 2.5, 10)


def _without_created(exposition: bytes) -> list[str]:
    return [line for line in exposition.decode().splitlines() if "_created" not in line]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["200", "404"]),
            st.floats(min_value=0, max_value=20, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_histogram_exposition_is_prometheus_clients(
    observations: list[tuple[str, str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopHistogram("t_seconds", "Doc.", ["route", "code"], BUCKETS, registry=ours)
    reference = Histogram("t_seconds", "Doc.", ["route", "code"], buckets=BUCKETS, registry=theirs)
    for route, code, value in observations:
        loop.labels(route, code).observe(value)
        reference.labels(route, code).observe(value)
    assert _without_created(generate_latest(ours)) == _without_created(generate_latest(theirs))


def test_a_bound_itself_falls_in_its_bucket() -> None:
    registry = CollectorRegistry()
    loop = LoopHistogram("t_seconds", "Doc.", ["route"], (0.5, 1), registry=registry)
    loop.labels("r").observe(0.5)
    text = generate_latest(registry).decode()
    assert 't_seconds_bucket{le="0.5",route="r"} 1.0' in text


def test_counter_exposition_is_prometheus_clients_created_included() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopCounter("t_messages_total", "Doc.", ["channel", "outcome"], registry=ours)
    reference = Counter("t_messages_total", "Doc.", ["channel", "outcome"], registry=theirs)
    for counter in (loop, reference):
        counter.labels("chat", "accepted").inc()
        counter.labels("chat", "accepted").inc(2)
        counter.labels("email", "invalid")
    assert _without_created(generate_latest(ours)) == _without_created(generate_latest(theirs))
    assert generate_latest(ours).decode().count("t_messages_created{") == 2


def test_the_wrong_number_of_labels_is_refused() -> None:
    loop = LoopCounter("t_total", "Doc.", ["channel", "outcome"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="takes labels"):
        loop.labels("chat")
