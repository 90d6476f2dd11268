"""What integrations post, as msgspec Structs: decoded straight from bytes, validated on the way.

Unknown fields are ignored so that integrations can add fields without breaking intake; the
constraints here bound what one message may cost (lengths, list sizes) and reject naive times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from shared.payload import Attributes, IvrSelection, Language, Short, Text

Id = Annotated[str, Meta(min_length=1, max_length=256, description="Opaque identifier.")]
Html = Annotated[str, Meta(max_length=2_000_000)]
MessageId = Annotated[str, Meta(min_length=1, max_length=998)]
Timestamp = Annotated[
    datetime,
    Meta(tz=True, description="RFC 3339 with an offset, e.g. 2026-11-02T10:00:00+08:00."),
]
IdList = Annotated[list[MessageId], Meta(max_length=200)]


class CustomerIn(msgspec.Struct, kw_only=True):
    """Who the integration believes the customer is; fields it does not know stay out."""

    id: Id | None = None
    phone: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    email: Annotated[str, Meta(min_length=3, max_length=320)] | None = None


class _Common(msgspec.Struct, kw_only=True):
    customer: CustomerIn | None = None
    attributes: Attributes = {}


class PhoneCall(_Common, kw_only=True):
    """A call record from the telephony/CTI system; the body is its transcript and voicemail."""

    call_id: Id
    from_: Annotated[str, Meta(min_length=1, max_length=64, description="Caller number.")] = (
        msgspec.field(name="from")
    )
    started_at: Timestamp
    ivr_selection: IvrSelection = []
    transcript: Text | None = None
    voicemail_text: Text | None = None
    language: Language | None = None


class Attachment(msgspec.Struct, kw_only=True):
    """Attachment metadata only; the content stays in the mail gateway."""

    filename: Short | None = None
    content_type: Annotated[str, Meta(max_length=255)] | None = None
    size: Annotated[int, Meta(ge=0, le=2**53)] | None = None


class EmailJson(_Common, kw_only=True):
    """A parsed email from the mail gateway; ``text`` or ``html`` must carry the body."""

    message_id: MessageId
    from_: Annotated[str, Meta(min_length=1, max_length=1_000)] = msgspec.field(name="from")
    text: Text | None = None
    html: Html | None = None
    subject: Short | None = None
    to: Short | Annotated[list[Short], Meta(max_length=100)] | None = None
    in_reply_to: MessageId | None = None
    references: Annotated[str, Meta(max_length=100_000)] | IdList | None = None
    received_at: Timestamp | None = None
    attachments: Annotated[list[Attachment], Meta(max_length=100)] = []


class ChatMessage(_Common, kw_only=True):
    """One customer message from the chat widget backend."""

    session_id: Id
    text: Text
    message_id: Id | None = None
    customer_id: Id | None = None
    sent_at: Timestamp | None = None
    locale: Language | None = None


class SocialAuthor(msgspec.Struct, kw_only=True):
    handle: Annotated[str, Meta(min_length=1, max_length=256)]
    id: Id | None = None


class SocialPost(_Common, kw_only=True):
    """A public post or private message from a social-platform webhook."""

    platform: Annotated[
        str,
        Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z", description="weibo, wechat, x, ..."),
    ]
    post_id: Id
    author: SocialAuthor
    text: Text
    visibility: Literal["public", "private"]
    thread_id: Id | None = None
    url: Annotated[str, Meta(max_length=2_048)] | None = None
    created_at: Timestamp | None = None


class Batch(msgspec.Struct):
    """Up to 500 messages of one channel; each item is decoded (and may fail) on its own."""

    messages: Annotated[list[msgspec.Raw], Meta(min_length=1, max_length=500)]


REQUEST_TYPES: dict[str, type[msgspec.Struct]] = {
    "phone": PhoneCall,
    "email": EmailJson,
    "chat": ChatMessage,
    "social": SocialPost,
}
