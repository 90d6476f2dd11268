"""In-app and web chat messages from the chat widget backend.

Retries must be no-ops: with a client message id the key is session + id; without one it is
session + time + a hash of the text ("a chat message without an id is keyed by session, time
and text"), so a resent message matches itself and two different lines do not collide.

The time is the client's ``sent_at``; when the widget sends neither id nor time, it is the time
of receipt floored to the minute. Trade-off: a retry within the same minute keeps its id (the
retry is a no-op), a retry that crosses a minute boundary becomes a second message, and the
same text sent twice within one minute ("还没到账", "还没到账") is one message. Without the floor
every retry would be new; without any time the second "还没到账" an hour later would be lost.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.models import InboundMessage, message_id_for

from . import fields
from .schemas import ChatMessage

_DECODER = msgspec.json.Decoder(ChatMessage)


def external_id(
    session_id: str,
    client_id: str | None,
    sent_at: datetime | None,
    text: str,
    received_at: datetime,
) -> str:
    """``<session>:<id>``, ``<session>:<utc time>:<sha256 of text>``, or, without a client time,
    ``<session>:~<utc minute of receipt>:<sha256 of text>``.

    ``%`` and ``:`` are escaped in session and id, so the first form has exactly one ``:`` and
    the others at least two: no payload of one form can take the other's id; ``~`` keeps a
    receipt minute apart from a client time.
    """
    session = fields.escape_part(session_id)
    if client_id is not None:
        return f"{session}:{fields.escape_part(client_id)}"
    if sent_at is not None:
        when = fields.utc_text(sent_at)
    else:
        minute = fields.arrival(received_at, None).replace(second=0, microsecond=0)
        when = "~" + fields.utc_text(minute)
    return f"{session}:{when}:{fields.sha256_hex(text)}"


def from_json(body: bytes | msgspec.Raw, received_at: datetime) -> InboundMessage:
    chat = fields.decode_json(_DECODER, body)
    session_id = fields.clean_id(chat.session_id, "$.session_id")
    client_id = fields.clean_id(chat.message_id, "$.message_id") if chat.message_id else None
    customer_id = fields.clean_id(chat.customer_id, "$.customer_id") if chat.customer_id else None
    sent_at = fields.check_time(chat.sent_at, "$.sent_at")
    text = fields.required_text(chat.text, "$.text")
    ext_id = external_id(session_id, client_id, sent_at, text, received_at)
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
