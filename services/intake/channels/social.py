"""Social-media posts and private messages from platform webhooks.

The text is redacted (``redacting``, after this module built the envelope) before anything is
published, stored or logged; this module passes it on untouched (bar control characters) so
that redaction sees exactly what was posted.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.models import InboundMessage, message_id_for

from . import fields
from .schemas import SocialPost

_DECODER = msgspec.json.Decoder(SocialPost)


def from_json(body: bytes | msgspec.Raw, received_at: datetime) -> InboundMessage:
    post = fields.decode_json(_DECODER, body)
    platform = post.platform.lower()
    # The platform's ids key the message and its thread and are kept unredacted: free text
    # (a space) in one is refused, or it would carry a card number past redaction.
    post_id = fields.clean_token(post.post_id, "$.post_id")
    thread_id = fields.clean_token(post.thread_id, "$.thread_id") if post.thread_id else None
    handle = fields.clean_id(post.author.handle, "$.author.handle")
    author_id = fields.clean_token(post.author.id, "$.author.id") if post.author.id else None
    created_at = fields.check_time(post.created_at, "$.created_at")
    url = fields.clean_token(post.url, "$.url") if post.url else None
    ext_id = f"{platform}:{fields.escape_part(post_id)}"
    return InboundMessage(
        message_id=message_id_for("social", ext_id),
        channel="social",
        external_id=ext_id,
        conversation_key=f"social:{platform}:{thread_id or post_id}",
        received_at=fields.arrival(received_at, None),
        sent_at=created_at,
        body=fields.required_text(post.text, "$.text"),
        customer=fields.customer(post.customer, "$"),
        platform=platform,
        visibility=post.visibility,
        author_handle=handle,
        attributes=fields.attributes(
            post.attributes,
            "$",
            {
                "social_post_id": post_id,
                "social_thread_id": thread_id,
                "social_author_id": author_id,
                "social_url": url,
            },
        ),
    )
