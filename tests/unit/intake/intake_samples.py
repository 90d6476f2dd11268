"""Real-shaped payloads for the intake tests: call records, JSON and raw MIME emails, chats, posts."""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime
from typing import Any

import msgspec

from services.intake.channels import normalize
from shared.models import InboundMessage

NOW = datetime(2026, 11, 2, 2, 30, tzinfo=UTC)
JSON = "application/json"
RFC822 = "message/rfc822"


def post(channel: str, payload: Any, received_at: datetime = NOW) -> InboundMessage:
    return normalize(channel, msgspec.json.encode(payload), JSON, received_at)


def post_mime(raw: bytes, received_at: datetime = NOW) -> InboundMessage:
    return normalize("email", raw, RFC822, received_at)


def call(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "call_id": "CTI-20261102-000123",
        "from": "+86 138 0013 8000",
        "started_at": "2026-11-02T10:05:11+08:00",
        "ivr_selection": ["2", "1"],
        "transcript": "您好，我的手机昨天被偷了，里面有钱包，请帮我冻结账户。",
        "language": "zh-CN",
    }
    payload.update(overrides)
    return payload


def json_email(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "message_id": "<CAKx7Lq0=abc123@mail.gmail.com>",
        "from": "Li Wei <Li.Wei@Example.com>",
        "to": ["support@wallet.example"],
        "subject": "Top-up not arrived",
        "text": "My top-up of 500 CNY on Nov 1 has not arrived.\n\nThanks,\nLi",
        "received_at": "2026-11-02T10:00:03+08:00",
    }
    payload.update(overrides)
    return payload


def chat(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "session_id": "sess-7f3a9c",
        "message_id": "m-0001",
        "text": "提现失败了但是钱被扣了",
        "customer_id": "u-884201",
        "sent_at": "2026-11-02T10:12:00+08:00",
        "locale": "zh-CN",
    }
    payload.update(overrides)
    return payload


def social(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "platform": "weibo",
        "post_id": "4962311234567890",
        "author": {"handle": "@angry_user", "id": "1234567"},
        "text": "@WalletCS 充值两天了还没到账，客服也不回！",
        "visibility": "public",
        "url": "https://weibo.com/1234567/4962311234567890",
        "created_at": "2026-11-02T09:40:00+08:00",
    }
    payload.update(overrides)
    return payload


# --- raw MIME -----------------------------------------------------------------------------


def encoded_word(text: str, codec: str, encoding: str = "B", label: str | None = None) -> str:
    """An RFC 2047 word; ``label`` lets a test lie about the charset the way real mailers do."""
    data = text.encode(codec)
    label = label or codec
    if encoding == "B":
        return f"=?{label}?B?{base64.b64encode(data).decode()}?="
    q = quopri.encodestring(data, header=True).decode()
    return f"=?{label}?Q?{q}?="


def b64_body(text: str, charset: str) -> bytes:
    return base64.encodebytes(text.encode(charset)).replace(b"\n", b"\r\n")


def qp_body(text: str, charset: str) -> bytes:
    """Quoted-printable with CRLF hard line breaks, as on the wire."""
    data = text.replace("\r\n", "\n").encode(charset)
    return quopri.encodestring(data).replace(b"\n", b"\r\n")


def headers_block(headers: list[tuple[str, str | bytes]]) -> bytes:
    lines = []
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        lines.append(name.encode("ascii") + b": " + raw)
    return b"\r\n".join(lines) + b"\r\n"


def leaf(content_type: str, cte: str, payload: bytes, extra: list[tuple[str, str]] = ()) -> bytes:
    head = [("Content-Type", content_type), ("Content-Transfer-Encoding", cte), *extra]
    return headers_block(head) + b"\r\n" + payload


def multipart(subtype: str, parts: list[bytes], boundary: str) -> tuple[str, bytes]:
    b = boundary.encode()
    body = b"This is a multi-part message in MIME format.\r\n\r\n"
    for part in parts:
        body += b"--" + b + b"\r\n" + part + b"\r\n"
    body += b"--" + b + b"--\r\n"
    return f'multipart/{subtype}; boundary="{boundary}"', body


def mail(
    headers: list[tuple[str, str | bytes]],
    content_type: str,
    body: bytes,
    cte: str | None = None,
) -> bytes:
    head = [*headers, ("MIME-Version", "1.0"), ("Content-Type", content_type)]
    if cte:
        head.append(("Content-Transfer-Encoding", cte))
    return headers_block(head) + b"\r\n" + body


def std_headers(**overrides: str | bytes) -> list[tuple[str, str | bytes]]:
    values: dict[str, str | bytes] = {
        "From": f"{encoded_word('王喆', 'gbk', label='gb2312')} <wangzhe@qq.com>",
        "To": "support@wallet.example",
        "Subject": encoded_word("充值没到账", "gb2312"),
        "Date": "Mon, 2 Nov 2026 10:00:00 +0800",
        "Message-ID": "<tencent_5A1B2C3D@QQ.COM>",
    }
    values.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return [(k, v) for k, v in values.items() if v != ""]
