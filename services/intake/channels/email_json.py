"""Email as parsed JSON from the mail gateway, and the envelope both email paths share.

Threading is by Message-ID (see ``msgid``); the body is split so that classification sees the
customer's new text while the quoted history travels alongside in ``quoted``.
"""

from __future__ import annotations

import re
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
# One item of an address list: quoted names and <...> may hold the separators.
_ADDRESS_ITEM = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|<[^>]*>?|[^,;"<])+')
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s]+@[^<>\s]+?)\s*>")
_NOT_ADDRESS = re.compile(r"[\s<>,;:\"'()\[\]]+")
_MAX_ADDRESS_HEADER = 2_000  # bounds the regex work; real headers are far shorter


def addresses(raw: str | list[str] | None) -> list[str]:
    """Lowercased addresses of an address header (``"张, 三" <a@b.cn>, c@d.cn``).

    A regex split instead of ``email.utils.getaddresses``, which costs ~150 µs a header here.
    """
    if not raw:
        return []
    found: list[str] = []
    for value in raw if isinstance(raw, list) else [raw]:
        for item in _ADDRESS_ITEM.findall(value[:_MAX_ADDRESS_HEADER]):
            angle = _ANGLE_ADDRESS.search(item)
            bare = (
                angle.group(1)
                if angle
                else next((t for t in _NOT_ADDRESS.split(item) if "@" in t), None)
            )
            address = fields.normalize_email(bare)
            if address is not None and address not in found:
                found.append(address)
    return found


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
