"""Email as parsed JSON from the mail gateway, and the envelope both email paths share.

Threading is by Message-ID (see ``msgid``); the body is split so that classification sees the
customer's new text while the quoted history travels alongside in ``quoted``.
"""

from __future__ import annotations

import email.utils
from datetime import datetime

import msgspec

from shared.models import AttributeValue, InboundMessage, message_id_for

from . import fields, msgid
from .errors import InvalidInput
from .schemas import CustomerIn, EmailJson
from .text import html_to_text, split_reply

_DECODER = msgspec.json.Decoder(EmailJson)
MAX_BODY = 100_000
_MAX_SUBJECT = 1_000


def addresses(raw: str | list[str] | None) -> list[str]:
    """Lowercased addresses of an address header (``"张三" <a@b.cn>, c@d.cn``)."""
    if not raw:
        return []
    values = raw if isinstance(raw, list) else [raw]
    try:
        pairs = email.utils.getaddresses(values)
    except (ValueError, IndexError, TypeError):
        return []
    return [a for _, address in pairs if (a := fields.normalize_email(address)) is not None]


def clean_subject(raw: str | None) -> str | None:
    subject = " ".join(fields.clean_text(raw).split())[:_MAX_SUBJECT]
    return subject or None


def email_envelope(
    *,
    message_id: str,
    in_reply_to: list[str],
    references: list[str],
    sender: str | list[str] | None,
    subject: str | None,
    text: str,
    received_at: datetime,
    reported_at: datetime | None = None,
    sent_at: datetime | None = None,
    given_customer: CustomerIn | None = None,
    given_attributes: dict[str, AttributeValue] | None = None,
    derived: dict[str, AttributeValue] | None = None,
) -> InboundMessage:
    """One envelope for an email, however it arrived."""
    extra = dict(derived or {})
    text = fields.clean_text(text)
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY]
        extra["email_body_truncated"] = True
    body, quoted = split_reply(text)
    root, chain = msgid.thread(message_id, in_reply_to, references)
    senders = addresses(sender)
    return InboundMessage(
        message_id=message_id_for("email", message_id),
        channel="email",
        external_id=message_id,
        conversation_key=f"email:{root}",
        received_at=fields.arrival(received_at, reported_at),
        sent_at=sent_at,
        subject=clean_subject(subject),
        body=body,
        quoted=quoted or None,
        customer=fields.customer(given_customer, "$", email=senders[0] if senders else None),
        references=chain,
        attributes=fields.attributes(given_attributes or {}, "$", extra),
    )


def from_json(body: bytes | msgspec.Raw, received_at: datetime) -> InboundMessage:
    mail = fields.decode_json(_DECODER, body)
    own_id = msgid.normalize_message_id(mail.message_id)
    if own_id is None:
        raise InvalidInput("$.message_id", "not a usable Message-ID")
    if not mail.from_.strip():
        raise InvalidInput("$.from", "must not be blank")
    text = fields.clean_text(mail.text)
    if not text and mail.html:
        text = html_to_text(mail.html)
    if not text:
        field = "$.html" if mail.html is not None else "$.text"
        raise InvalidInput(field, "text or html with content is required")
    to = addresses(mail.to)
    return email_envelope(
        message_id=own_id,
        in_reply_to=msgid.parse_id_list(mail.in_reply_to),
        references=msgid.parse_id_list(mail.references),
        sender=mail.from_,
        subject=mail.subject,
        text=text,
        received_at=received_at,
        reported_at=fields.check_time(mail.received_at, "$.received_at"),
        given_customer=mail.customer,
        given_attributes=mail.attributes,
        derived={
            "email_to": ", ".join(to)[:1_000] or None,
            "email_attachments": len(mail.attachments) or None,
            "email_attachment_bytes": sum(a.size or 0 for a in mail.attachments) or None,
        },
    )
