"""Property tests: no input bytes make intake raise anything but InvalidInput/UnsupportedMediaType.

Whatever is accepted must also survive the trip to Kafka (JSON round trip), carry no control
characters that PostgreSQL would refuse, and be a pure function of its input.
"""

from __future__ import annotations

import base64
import os
import quopri
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.channels import (
    CHANNELS,
    InvalidInput,
    UnsupportedMediaType,
    normalize,
    normalize_batch,
)
from services.intake.channels.text import html_to_text, split_reply
from shared.models import InboundMessage

from tests.unit.intake.intake_samples import (
    JSON,
    NOW,
    RFC822,
    b64_body,
    call,
    chat,
    encoded_word,
    json_email,
    leaf,
    mail,
    multipart,
    qp_body,
    social,
    std_headers,
)

FUZZ = settings(
    max_examples=int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "250")),  # raise for a long campaign
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALID: dict[str, dict[str, Any]] = {
    "phone": call(voicemail_text="请回电", customer={"id": "u1"}, attributes={"tier": "vip"}),
    "email": json_email(html="<p>x</p>", in_reply_to="<a@b>", references=["<r@b>"],
                        attachments=[{"filename": "a.png", "size": 3}]),
    "chat": chat(customer={"email": "a@b.cn"}),
    "social": social(thread_id="t1"),
}
KEYS = sorted({key for payload in VALID.values() for key in payload} | {"customer", "attributes"})
CONTENT_TYPES = [JSON, RFC822, "text/plain", "application/json; charset=latin-1", ""]


def _no_control_characters(value: Any) -> None:
    if isinstance(value, str):
        assert not any(ord(ch) < 32 and ch not in "\t\n\r" or ch == "\x7f" for ch in value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_control_characters(key)
            _no_control_characters(item)
    elif isinstance(value, list):
        for item in value:
            _no_control_characters(item)


def _check_envelope(message: InboundMessage, again: InboundMessage) -> None:
    assert message == again, "normalize must be a pure function of its input"
    encoded = msgspec.json.encode(message)
    assert msgspec.json.decode(encoded, type=InboundMessage) == message
    _no_control_characters(msgspec.json.decode(encoded))
    assert message.message_id and message.external_id and message.conversation_key


def check(channel: str, body: bytes, content_type: str = JSON) -> None:
    try:
        message = normalize(channel, body, content_type, NOW)
    except (InvalidInput, UnsupportedMediaType) as error:
        assert str(error)
        return
    _check_envelope(message, normalize(channel, body, content_type, NOW))


def check_batch(channel: str, body: bytes) -> None:
    try:
        results = normalize_batch(channel, body, NOW)
    except InvalidInput:
        return
    again = normalize_batch(channel, body, NOW)
    for result, repeat in zip(results, again, strict=True):
        if isinstance(result, InboundMessage):
            assert isinstance(repeat, InboundMessage)
            _check_envelope(result, repeat)
        else:
            assert isinstance(result, InvalidInput) and result.field.startswith("$.messages[")


offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
)
timestamps = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offsets | st.just(None) | st.just(UTC),
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars | timestamps,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_values = (
    json_values
    | timestamps
    | st.text(alphabet="0123456789*#+- ", max_size=20)
    | st.lists(st.text(alphabet="0123456789*#x", max_size=4), max_size=4)
    | st.sampled_from(["public", "private", "<a@b>", "<a@b> <c@d>", "<p>hi</p><blockquote>q</blockquote>"])
    | st.dictionaries(st.sampled_from(["id", "phone", "email", "handle"]), json_values, max_size=3)
)


@FUZZ
@given(channel=st.sampled_from([*CHANNELS, "fax"]), body=st.binary(max_size=600),
       content_type=st.sampled_from(CONTENT_TYPES))
def test_random_bytes(channel: str, body: bytes, content_type: str) -> None:
    check(channel, body, content_type)


@FUZZ
@given(channel=st.sampled_from(CHANNELS), value=json_values)
def test_random_json_values(channel: str, value: Any) -> None:
    check(channel, msgspec.json.encode(value))


@FUZZ
@given(channel=st.sampled_from(CHANNELS), payload=st.dictionaries(st.sampled_from(KEYS), field_values))
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
        body[position:position + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    check(channel, bytes(body))


@FUZZ
@given(channel=st.sampled_from(CHANNELS), items=st.lists(field_values | st.sampled_from(list(VALID.values())), max_size=6),
       garbage=st.binary(max_size=40))
def test_random_batches(channel: str, items: list[Any], garbage: bytes) -> None:
    check_batch(channel, msgspec.json.encode({"messages": items}))
    check_batch(channel, garbage)


# --- raw MIME -----------------------------------------------------------------------------

CHARSETS = ["utf-8", "gb2312", "gbk", "gb18030", "big5", "iso-8859-1", "us-ascii", "utf-7",
            "unicode_escape", "base64", "rot13", "idna", "punycode", "x-unknown", "", "utf-16"]
CODECS = ["utf-8", "gbk", "gb18030", "big5", "utf-16"]
CTES = ["base64", "quoted-printable", "8bit", "7bit", "binary", "x-uuencode", "bogus"]
texts = st.text(max_size=80) | st.sampled_from(
    ["我的钱包被偷了", "On Mon wrote:\n> old", "-- \nsig", "发件人: a\n发送时间: b", "<b>粗体</b>&nbsp;"]
)


def _encode_text(text: str, codec: str) -> bytes:
    return text.encode(codec, errors="replace")


@st.composite
def mime_leaf(draw: st.DrawFn) -> bytes:
    subtype = draw(st.sampled_from(["plain", "html", "png", "rfc822"]))
    major = {"png": "image", "rfc822": "message"}.get(subtype, "text")
    label = draw(st.sampled_from(CHARSETS))
    data = _encode_text(draw(texts), draw(st.sampled_from(CODECS)))
    cte = draw(st.sampled_from(CTES))
    payload = {"base64": base64.encodebytes(data), "quoted-printable": quopri.encodestring(data)}.get(
        cte, data
    )
    extra = [("Content-Disposition", "attachment; filename=a.bin")] if draw(st.booleans()) else []
    return leaf(f"{major}/{subtype}; charset={label}", cte, payload, extra)


@st.composite
def mime_mail(draw: st.DrawFn) -> bytes:
    headers = std_headers(
        Subject=draw(st.sampled_from(["", "plain subject"]))
        or encoded_word(draw(texts), "utf-8", draw(st.sampled_from(["B", "Q"])),
                        label=draw(st.sampled_from(CHARSETS)) or None),
        Message_ID=draw(st.sampled_from(["", "<a@b>", "<>", "no brackets", "<x@Y.cn> <z@w>"])),
        References=draw(st.sampled_from(["", "<r@b>", "garbage <", "<a@b>\r\n <c@d>"])),
        Date=draw(st.sampled_from(["", "Mon, 2 Nov 2026 10:00:00 +0800", "yesterday", "Mon, 2 Nov 0001 00:00:00 -1200",
                                   "Mon, 2 Nov 2026 10:00:00 -0000"])),
        From=draw(st.sampled_from(["a@b.cn", "", "=?gbk?B?1cXI/Q==?= <zs@qq.com>", "undisclosed", "<>"])),
    )
    if draw(st.booleans()):
        parts = draw(st.lists(mime_leaf(), min_size=0, max_size=4))
        content_type, body = multipart(draw(st.sampled_from(["mixed", "alternative", "related"])), parts,
                                       draw(st.sampled_from(["b", "=_x", "a b"])))
        return mail(headers, content_type, body)
    single = draw(mime_leaf())
    head, _, body = single.partition(b"\r\n\r\n")
    return headers_and(headers, head, body)


def headers_and(headers: list[tuple[str, str | bytes]], part_head: bytes, body: bytes) -> bytes:
    return mail(headers, "text/plain", b"")[: -len(b"Content-Type: text/plain\r\n\r\n")] + part_head + b"\r\n\r\n" + body


@FUZZ
@given(raw=mime_mail())
def test_generated_mime(raw: bytes) -> None:
    check("email", raw, RFC822)


SAMPLE_MAILS = [
    mail(std_headers(), 'text/plain; charset="gb2312"', b64_body("王喆充值没到账\n\n发自我的iPhone", "gbk"), "base64"),
    mail(std_headers(), "text/html; charset=utf-8", qp_body("<div>hi<blockquote>old</blockquote></div>", "utf-8"),
         "quoted-printable"),
    mail(std_headers(), *multipart("alternative", [
        leaf("text/plain; charset=big5", "base64", b64_body("錢包被偷", "big5")),
        leaf("text/html; charset=big5", "base64", b64_body("<p>錢包被偷</p>", "big5")),
    ], "zz")),
]


@FUZZ
@given(index=st.integers(0, len(SAMPLE_MAILS) - 1), data=st.data())
def test_mutated_mime(index: int, data: st.DataObject) -> None:
    raw = bytearray(SAMPLE_MAILS[index])
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw)))
        replacement = data.draw(st.binary(max_size=6) | st.sampled_from(
            [b"\r\n", b"\r\n\r\n", b"--zz\r\n", b"=?", b"?=", b"<", b">", b"=\r\n", b"Content-Type: multipart/mixed; boundary=zz\r\n"]
        ))
        raw[position:position + data.draw(st.integers(0, 8))] = replacement
    check("email", bytes(raw), RFC822)


@FUZZ
@given(raw=st.binary(max_size=1500))
def test_random_bytes_as_mime(raw: bytes) -> None:
    check("email", b"From: a@b.cn\r\n" + raw, RFC822)
    check("email", raw, RFC822)


def test_deeply_nested_multipart() -> None:
    raw = b"From: a@b.cn\r\nMessage-ID: <n@b>\r\n"
    for level in range(300):
        raw += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    check("email", raw, RFC822)


@FUZZ
@given(html=st.text(alphabet=st.sampled_from(list("<>/!-[]&#;=\"' abpdivbrquote\nx中")) | st.characters(codec="utf-8"), max_size=300))
def test_html_and_reply_split_never_fail(html: str) -> None:
    text = html_to_text(html)
    body, quoted = split_reply(text)
    assert isinstance(body, str) and isinstance(quoted, str)
    check("email", msgspec.json.encode(json_email(text=None, html=html)))
