"""In-app and web chat messages from the chat widget backend.

Retries must be no-ops: with a client message id the key is session + id; without one it is
session + client time + a hash of the text, so a resent message matches itself and two
different lines in the same second do not collide.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.models import InboundMessage, message_id_for

from . import fields
from .schemas import ChatMessage

_DECODER = msgspec.json.Decoder(ChatMessage)


def external_id(session_id: str, client_id: str | None, sent_at: datetime | None, text: str) -> str:
    """``<session>:<id>``, or ``<session>:<utc time or empty>:<sha256 of text>``.

    ``%`` and ``:`` are escaped in session and id, so the first form has exactly one ``:`` and
    the second at least two: no payload of one form can take the other's id.
    """
    session = fields.escape_part(session_id)
    if client_id is not None:
        return f"{session}:{fields.escape_part(client_id)}"
    when = fields.utc_text(sent_at) if sent_at is not None else ""
    return f"{session}:{when}:{fields.sha256_hex(text)}"


def from_json(body: bytes | msgspec.Raw, received_at: datetime) -> InboundMessage:
    chat = fields.decode_json(_DECODER, body)
    session_id = fields.clean_id(chat.session_id, "$.session_id")
    client_id = fields.clean_id(chat.message_id, "$.message_id") if chat.message_id else None
    customer_id = fields.clean_id(chat.customer_id, "$.customer_id") if chat.customer_id else None
    sent_at = fields.check_time(chat.sent_at, "$.sent_at")
    text = fields.required_text(chat.text, "$.text")
    ext_id = external_id(session_id, client_id, sent_at, text)
    return InboundMessage(
        message_id=message_id_for("chat", ext_id),
        channel="chat",
        external_id=ext_id,
        conversation_key=f"chat:{session_id}",
        received_at=fields.arrival(received_at, None),
        sent_at=sent_at,
        body=text,
        customer=fields.customer(chat.customer, "$", id=customer_id),
        language=fields.language(chat.locale),
        attributes=fields.attributes(chat.attributes, "$", {"chat_locale": chat.locale}),
    )
