"""Malformed input on every channel: always InvalidInput or UnsupportedMediaType, field named."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.intake.channels import (
    CHANNELS,
    InvalidInput,
    UnsupportedMediaType,
    normalize,
    normalize_batch,
)
from shared.models import InboundMessage
from tests.unit.intake.intake_samples import JSON, NOW, RFC822, call, chat, json_email, social

VALID: dict[str, dict[str, Any]] = {
    "phone": call(),
    "email": json_email(),
    "chat": chat(),
    "social": social(),
}
REQUIRED = {
    "phone": ["call_id", "from", "started_at"],
    "email": ["message_id", "from"],
    "chat": ["session_id", "text"],
    "social": ["platform", "post_id", "author", "text", "visibility"],
}
SECRET = "13912345678 secret@example.com 我的密码是123456"


def _error(channel: str, body: bytes, content_type: str = JSON) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        normalize(channel, body, content_type, NOW)
    return error.value


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        (b"", "body", 400),
        (b"{", "body", 400),
        (b'{"a": }', "body", 400),
        (b'{"text": "x",}', "body", 400),
        (b"\xef\xbb\xbf\xef\xbb\xbf{}", "body", 400),
        (b'{"text": "\xff\xfe"}', "body", 400),
        (b'{"text": "\\ud800"}', "body", 400),
        (b"[]", "$", 422),
        (b'"just a string"', "$", 422),
        (b"null", "$", 422),
        (b"42", "$", 422),
    ],
)
def test_unreadable_or_non_object_bodies(
    channel: str, body: bytes, field: str, status: int
) -> None:
    error = _error(channel, body)
    assert (error.field, error.status) == (field, status)


@pytest.mark.parametrize(
    ("channel", "name"), [(c, n) for c, names in REQUIRED.items() for n in names]
)
def test_missing_required_field_is_named(channel: str, name: str) -> None:
    payload = dict(VALID[channel])
    del payload[name]
    assert _error(channel, msgspec.json.encode(payload)).field == f"$.{name}"


@pytest.mark.parametrize(
    ("channel", "name"), [(c, n) for c, names in REQUIRED.items() for n in names]
)
def test_wrong_type_of_required_field_is_named(channel: str, name: str) -> None:
    payload = {**VALID[channel], name: 12345}
    assert _error(channel, msgspec.json.encode(payload)).field == f"$.{name}"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"customer": "u-1"}, "$.customer"),
        ({"customer": {"id": 5}}, "$.customer.id"),
        ({"customer": {"email": SECRET}}, "$.customer.email"),
        ({"customer": {"phone": "call me maybe"}}, "$.customer.phone"),
        ({"attributes": ["tier", "vip"]}, "$.attributes"),
        ({"attributes": {"tier": {"level": "vip"}}}, "$.attributes[...]"),
        ({"attributes": {"": 1}}, "$.attributes (key)"),
        ({"attributes": {"k" * 65: 1}}, "$.attributes (key)"),
        ({"attributes": {"a\x00b": 1}}, "$.attributes (key)"),
        ({"attributes": {f"k{i}": i for i in range(51)}}, "$.attributes"),
        ({"attributes": {"big": 2**64}}, "$.attributes[...]"),
        ({"attributes": {"long": "x" * 1001}}, "$.attributes[...]"),
    ],
)
def test_common_fields_are_validated(channel: str, extra: dict[str, Any], field: str) -> None:
    assert _error(channel, msgspec.json.encode({**VALID[channel], **extra})).field == field


@pytest.mark.parametrize("channel", CHANNELS)
def test_values_never_appear_in_errors(channel: str) -> None:
    cases = [
        {**VALID[channel], "customer": {"email": SECRET}},
        {**VALID[channel], "attributes": {"x": [SECRET]}},
        {"visibility": SECRET, **{k: v for k, v in VALID[channel].items() if k != "visibility"}},
        {
            **VALID[channel],
            "started_at": SECRET,
            "sent_at": SECRET,
            "created_at": SECRET,
            "received_at": SECRET,
        },
        {**VALID[channel], "ivr_selection": [SECRET], "platform": SECRET, "locale": SECRET},
    ]
    for payload in cases:
        try:
            normalize(channel, msgspec.json.encode(payload), JSON, NOW)
        except InvalidInput as error:
            for piece in SECRET.split():
                assert piece not in str(error) and piece not in error.detail


def test_unknown_extra_fields_are_ignored() -> None:
    for channel, payload in VALID.items():
        extra = {**payload, "new_field": {"nested": [1, 2]}, "v2": True}
        assert isinstance(normalize(channel, msgspec.json.encode(extra), JSON, NOW), InboundMessage)


def test_utf8_bom_is_tolerated() -> None:
    body = b"\xef\xbb\xbf" + msgspec.json.encode(chat())
    assert normalize("chat", body, JSON, NOW).body == "提现失败了但是钱被扣了"


@pytest.mark.parametrize(
    ("channel", "content_type"),
    [
        ("chat", "text/plain"),
        ("chat", RFC822),
        ("phone", RFC822),
        ("social", "application/x-www-form-urlencoded"),
        ("email", "text/plain; charset=utf-8"),
        ("email", "multipart/form-data; boundary=x"),
        ("phone", ""),
        ("phone", "application/json; charset=gbk"),
        ("phone", "application/octet-stream"),
    ],
)
def test_unsupported_media_types(channel: str, content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as error:
        normalize(channel, msgspec.json.encode(VALID[channel]), content_type, NOW)
    assert JSON in error.value.allowed[0]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/vnd.switchboard.v1+json",
    ],
)
def test_json_media_type_spellings(content_type: str) -> None:
    assert normalize("chat", msgspec.json.encode(chat()), content_type, NOW).channel == "chat"


def test_unknown_channel() -> None:
    for call_it in (
        lambda: normalize("fax", b"{}", JSON, NOW),
        lambda: normalize_batch("fax", b'{"messages": [{}]}', NOW),
    ):
        with pytest.raises(InvalidInput) as error:
            call_it()
        assert error.value.field == "channel"


def test_rfc822_on_email_with_json_body_is_an_invalid_mail() -> None:
    with pytest.raises(InvalidInput):
        normalize("email", msgspec.json.encode(json_email()), RFC822, NOW)


# --- batches ------------------------------------------------------------------------------


def test_batch_gives_one_result_per_item_in_order() -> None:
    items = [chat(message_id="m1"), {"session_id": "s"}, chat(message_id="m2"), [], chat(text=" ")]
    results = normalize_batch("chat", msgspec.json.encode({"messages": items}), NOW)
    assert [type(r).__name__ for r in results] == [
        "InboundMessage",
        "InvalidInput",
        "InboundMessage",
        "InvalidInput",
        "InvalidInput",
    ]
    fields = [r.field for r in results if isinstance(r, InvalidInput)]
    assert fields == ["$.messages[1].text", "$.messages[3]", "$.messages[4].text"]
    single = normalize("chat", msgspec.json.encode(chat(message_id="m1")), JSON, NOW)
    assert isinstance(results[0], InboundMessage) and results[0].message_id == single.message_id


@pytest.mark.parametrize("channel", CHANNELS)
def test_batch_of_each_channel(channel: str) -> None:
    results = normalize_batch(channel, msgspec.json.encode({"messages": [VALID[channel]] * 3}), NOW)
    assert len({r.message_id for r in results if isinstance(r, InboundMessage)}) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", "body"),
        (b"[]", "$"),
        (b"{}", "$.messages"),
        (b'{"messages": {}}', "$.messages"),
        (b'{"messages": []}', "$.messages"),
        (msgspec.json.encode({"messages": [chat()] * 501}), "$.messages"),
        (b'{"messages": [\xff]}', "body"),
    ],
)
def test_bad_batch_envelopes_raise(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_batch("chat", body, NOW)
    assert error.value.field == field


def test_batch_of_500_is_accepted() -> None:
    items = [chat(message_id=f"m{i}") for i in range(500)]
    results = normalize_batch("chat", msgspec.json.encode({"messages": items}), NOW)
    assert len({r.message_id for r in results if isinstance(r, InboundMessage)}) == 500


def test_batches_are_json_only() -> None:
    with pytest.raises(UnsupportedMediaType) as error:
        normalize_batch("email", b'{"messages": [{}]}', NOW, content_type=RFC822)
    assert error.value.allowed == (JSON,)
