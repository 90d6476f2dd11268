"""Channel payloads → ``InboundMessage`` envelopes: pure functions, no I/O, no clock.

Envelopes come out redacted (``redacting``): what is published is what may be published.
The HTTP layer maps ``InvalidInput`` to 400/422 and ``UnsupportedMediaType`` to 415; nothing
else may escape from here for any input bytes (the property tests hold us to that).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec

from shared.media import JSON_MEDIA_TYPE, is_json_type, is_utf8_json, media_type
from shared.models import InboundMessage

from . import chat, email_json, mime, phone, social
from .errors import InvalidInput, UnsupportedMediaType
from .fields import decode_json
from .redacting import redact_envelope
from .schemas import Batch

__all__ = [
    "CHANNELS",
    "JSON_MEDIA_TYPE",
    "MAX_BATCH",
    "RFC822_MEDIA_TYPE",
    "BodyKind",
    "InvalidInput",
    "UnsupportedMediaType",
    "accepted_media_types",
    "body_kind",
    "normalize",
    "normalize_batch",
]

CHANNELS: tuple[str, ...] = ("phone", "email", "chat", "social")
RFC822_MEDIA_TYPE = "message/rfc822"
MAX_BATCH = 500

_FromJson = Callable[[bytes | msgspec.Raw, datetime], InboundMessage]
_FROM_JSON: dict[str, _FromJson] = {
    "phone": phone.from_json,
    "email": email_json.from_json,
    "chat": chat.from_json,
    "social": social.from_json,
}
_RAW_MAIL_TYPES = frozenset({RFC822_MEDIA_TYPE, "message/global"})
BodyKind = Literal["json", "mail"]
_BATCH_DECODER = msgspec.json.Decoder(Batch)


def accepted_media_types(channel: str, *, batch: bool = False) -> tuple[str, ...]:
    """What ``normalize`` reads on ``channel`` (for 415 responses and the OpenAPI document)."""
    if channel == "email" and not batch:
        return (JSON_MEDIA_TYPE, RFC822_MEDIA_TYPE)
    return (JSON_MEDIA_TYPE,)


def body_kind(channel: str, content_type: str, *, batch: bool = False) -> BodyKind:
    """How a body of this Content-Type is read on ``channel``: ``json`` or raw ``mail``.

    The HTTP layer asks before reading the body (an early 415, and the size limit of the
    kind); ``normalize`` asks again, so the decision lives here only. Raises
    ``UnsupportedMediaType`` naming what the endpoint accepts.
    """
    if is_utf8_json(content_type):
        return "json"
    media, _ = media_type(content_type)
    if is_json_type(media):  # JSON in another charset
        raise UnsupportedMediaType(content_type, (f"{JSON_MEDIA_TYPE}; charset=utf-8",))
    if channel == "email" and not batch and media in _RAW_MAIL_TYPES:
        return "mail"
    raise UnsupportedMediaType(content_type, accepted_media_types(channel, batch=batch))


def _from_json(channel: str) -> _FromJson:
    handler = _FROM_JSON.get(channel)
    if handler is None:
        raise InvalidInput("channel", f"unknown channel; use one of {', '.join(CHANNELS)}")
    return handler


def normalize(
    channel: str, body: bytes, content_type: str, received_at: datetime
) -> InboundMessage:
    """One posted message → its envelope. JSON must be UTF-8; raw mail only on ``email``."""
    handler = _from_json(channel)
    if body_kind(channel, content_type) == "mail":
        return redact_envelope(mime.from_mime(body, received_at))
    return redact_envelope(handler(body, received_at))


def normalize_batch(
    channel: str, body: bytes, received_at: datetime, *, content_type: str = JSON_MEDIA_TYPE
) -> list[InboundMessage | InvalidInput]:
    """``{"messages": [...]}`` (1..500 JSON items) → one result per item, in order.

    A bad item does not sink the batch: its slot holds the ``InvalidInput`` with the field
    rooted at ``$.messages[i]``. Only a bad envelope (not JSON, no list, too many) raises.
    """
    handler = _from_json(channel)
    body_kind(channel, content_type, batch=True)
    batch = decode_json(_BATCH_DECODER, body)
    results: list[InboundMessage | InvalidInput] = []
    for index, item in enumerate(batch.messages):
        try:
            results.append(redact_envelope(handler(item, received_at)))
        except InvalidInput as error:
            results.append(error.at(f"$.messages[{index}]"))
    return results
