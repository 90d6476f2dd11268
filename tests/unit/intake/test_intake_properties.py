"""Property tests, JSON channels: no bytes make intake raise anything unexpected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from services.intake.channels import CHANNELS
from services.intake.channels.text import html_to_text, split_reply
from tests.unit.intake.intake_fuzz import CONTENT_TYPES, FUZZ, KEYS, VALID, check, check_batch
from tests.unit.intake.intake_samples import json_email

offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
)
timestamps = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offsets | st.just(None) | st.just(UTC),
)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    scalars | timestamps,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = (
    json_values
    | timestamps
    | st.text(alphabet="0123456789*#+- ", max_size=20)
    | st.lists(st.text(alphabet="0123456789*#x", max_size=4), max_size=4)
    | st.sampled_from(
        ["public", "private", "<a@b>", "<a@b> <c@d>", "<p>hi</p><blockquote>q</blockquote>"]
    )
    | st.dictionaries(st.sampled_from(["id", "phone", "email", "handle"]), json_values, max_size=3)
)


@FUZZ
@given(
    channel=st.sampled_from([*CHANNELS, "fax"]),
    body=st.binary(max_size=600),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_random_bytes(channel: str, body: bytes, content_type: str) -> None:
    check(channel, body, content_type)


@FUZZ
@given(channel=st.sampled_from(CHANNELS), value=json_values)
def test_random_json_values(channel: str, value: Any) -> None:
    check(channel, msgspec.json.encode(value))


@FUZZ
@given(
    channel=st.sampled_from(CHANNELS), payload=st.dictionaries(st.sampled_from(KEYS), field_values)
)
def test_random_objects_with_known_keys(channel: str, payload: dict[str, Any]) -> None:
    check(channel, msgspec.json.encode(payload))


@FUZZ
@given(channel=st.sampled_from(CHANNELS), data=st.data())
def test_mutated_valid_payloads(channel: str, data: st.DataObject) -> None:
    payload = dict(VALID[channel])
    for _ in range(data.draw(st.integers(1, 4))):
        key = data.draw(st.sampled_from(sorted(payload) + KEYS))
        action = data.draw(st.sampled_from(["drop", "set", "set"]))
        if action == "drop":
            payload.pop(key, None)
        else:
            payload[key] = data.draw(field_values)
    check(channel, msgspec.json.encode(payload))


@FUZZ
@given(channel=st.sampled_from(CHANNELS), data=st.data())
def test_byte_level_mutations_of_valid_json(channel: str, data: st.DataObject) -> None:
    body = bytearray(msgspec.json.encode(VALID[channel]))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(body)))
        body[position : position + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    check(channel, bytes(body))


@FUZZ
@given(
    channel=st.sampled_from(CHANNELS),
    items=st.lists(field_values | st.sampled_from(list(VALID.values())), max_size=6),
    garbage=st.binary(max_size=40),
)
def test_random_batches(channel: str, items: list[Any], garbage: bytes) -> None:
    check_batch(channel, msgspec.json.encode({"messages": items}))
    check_batch(channel, garbage)


# --- raw MIME -----------------------------------------------------------------------------


@FUZZ
@given(
    html=st.text(
        alphabet=st.sampled_from(list("<>/!-[]&#;=\"' abpdivbrquote\nx中"))
        | st.characters(codec="utf-8"),
        max_size=300,
    )
)
def test_html_and_reply_split_never_fail(html: str) -> None:
    text = html_to_text(html)
    body, quoted = split_reply(text)
    assert isinstance(body, str) and isinstance(quoted, str)
    check("email", msgspec.json.encode(json_email(text=None, html=html)))
