"""Raw RFC 822 email (``Content-Type: message/rfc822``) as the mail gateway relays it.

Decoding is our own where the stdlib trusts labels too much: Chinese mail is routinely labelled
GB2312 while using GBK/GB18030 characters, and headers arrive as raw 8-bit or as encoded-words
split mid-character. Since headers are decoded here, the parser runs with the ``compat32``
policy: ``email.policy.default`` would parse every header through its registry again, which
costs ten times the whole parse (about 3 ms against 0.3 ms for a two-part mail) and is where
the stdlib's rarer exceptions on malformed headers come from. A mail without a Message-ID gets one derived from its content (From, To,
Date, Subject and the raw body), so the same mail posted twice still maps to one message.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.policy
import email.utils
import hashlib
import re
from datetime import datetime
from email.message import Message

from shared.models import AttributeValue, InboundMessage

from . import fields, msgid
from .email_json import addresses, email_envelope
from .errors import InvalidInput
from .text import html_to_text

_GB_LABELS = ("gb2312", "gbk", "x-gbk", "cp936", "euc-cn", "csgb2312", "gb_2312-80")
_ALIASES = {
    **dict.fromkeys(_GB_LABELS, "gb18030"),
    **dict.fromkeys(("big5", "x-big5", "csbig5", "cn-big5"), "cp950"),
    "ks_c_5601-1987": "cp949",
}
_LATIN_LABELS = frozenset({"us-ascii", "ascii", "iso-8859-1", "latin1", "cp1252", "windows-1252"})
_TEXT_CODEC_PREFIXES = (
    *("utf-8", "utf-16", "utf-32", "gb", "big5", "cp9", "cp12", "iso8859", "iso2022"),
    *("euc", "shift_jis", "koi8", "latin", "mac-", "tis", "hz", "ascii", "johab", "cp874"),
)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]*")
_MAX_PARTS = 500
_MAX_HEADER_LINES = 3_000
_MAX_HEADER_CHARS = 32_000  # decoded headers are cut far shorter (subject: 1,000 characters)
_MAX_BOUNDARY_LINES = 5_000
_PARSE_ERRORS = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
    email.errors.MessageError,
)


def _codec(label: str | None) -> str | None:
    """A text codec for a charset label, or None when unknown or not a text encoding."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    return codec if codec.startswith(_TEXT_CODEC_PREFIXES) else None


def decode_bytes(data: bytes, label: str | None) -> str:
    """Text of ``data`` by its label, guessing UTF-8 then GB18030 when the label fails or lies."""
    codec = _codec(label)
    lowered = (label or "").strip().lower()
    candidates = (["utf-8"] if lowered in _LATIN_LABELS else []) + ([codec] if codec else [])
    for name in (*candidates, "utf-8", "gb18030"):
        try:
            return data.decode(name)
        except UnicodeError:
            continue
    return data.decode(codec or "utf-8", errors="replace")


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            return binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_header(raw: str) -> str:
    """A header value as text: unfolded, raw 8-bit decoded, RFC 2047 encoded-words decoded.

    Adjacent encoded-words in one charset are joined before decoding because encoders split
    multi-byte characters across them.
    """
    value = _FOLD.sub(" ", raw[:_MAX_HEADER_CHARS])
    if not value.isascii():
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    out: list[str] = []
    pending = b""
    pending_label: str | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        label, encoding, payload = match.groups()
        data = _word_bytes(encoding, payload)
        if data is None:
            continue
        label = label.split("*", 1)[0].lower()
        if pending and (gap.strip() or label != pending_label):
            out.append(decode_bytes(pending, pending_label))
            pending = b""
        if gap.strip() or not pending_label:
            out.append(gap)
        pending += data
        pending_label = label
        position = match.end()
    if pending:
        out.append(decode_bytes(pending, pending_label))
    out.append(value[position:])
    return fields.clean_text("".join(out))


def _headers(message: Message) -> dict[str, str]:
    """First occurrence of each header, raw: ``decode_header`` does the decoding."""
    headers: dict[str, str] = {}
    for name, raw in message.raw_items():
        headers.setdefault(name.lower(), str(raw))
    return headers


def _date(raw: str | None) -> datetime | None:
    """The Date header when it is a sane, offset-carrying time; a broken Date is ignored."""
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(decode_header(raw))
        return fields.check_time(when, "header Date") if when.tzinfo is not None else None
    except (ValueError, TypeError, IndexError, OverflowError, InvalidInput):
        return None


class _Parts:
    """The text/plain and text/html bodies, and what is attached."""

    def __init__(self, message: Message) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments = 0
        self.attachment_bytes = 0
        stack: list[Message] = [message]
        seen = 0
        while stack and seen < _MAX_PARTS:
            part = stack.pop()
            seen += 1
            content_type = part.get_content_type()
            if part.is_multipart():
                children = part.get_payload()
                if content_type == "message/rfc822" and part is not message:
                    self.attachments += 1
                elif isinstance(children, list):
                    stack.extend(c for c in reversed(children) if isinstance(c, Message))
                continue
            self._leaf(part, content_type)

    def _leaf(self, part: Message, content_type: str) -> None:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        attached = part.get_content_disposition() == "attachment" or bool(part.get_filename())
        if content_type.startswith("multipart/") and not attached:
            # A multipart without a (matching) boundary is left unsplit: its body is the
            # customer's words, not an attachment.
            content_type = "text/plain"
        if attached or content_type not in ("text/plain", "text/html"):
            self.attachments += 1
            self.attachment_bytes += len(data)
            return
        text = decode_bytes(data, part.get_content_charset())
        (self.plain if content_type == "text/plain" else self.html).append(text)


def _derived_id(headers: dict[str, str], body: bytes, *, broken_head: bool) -> str:
    """Keyed by the headers that identify a mail and the raw content after them. When a line
    that is no header ended the header block early (``broken_head``), the parser took what
    followed as content: all of it is then hashed, or two different mails would share an id."""
    split = min((i for i in (body.find(b"\r\n\r\n"), body.find(b"\n\n")) if i >= 0), default=-1)
    if broken_head:
        split = 0
    digest = hashlib.sha256()
    for name in ("from", "to", "date", "subject"):
        digest.update(_FOLD.sub(" ", headers.get(name, "")).strip().encode("utf-8", "replace"))
        digest.update(b"\x1f")
    digest.update(body[split:] if split >= 0 else b"")
    return f"{digest.hexdigest()[:40]}@derived.switchboard.invalid"


def _check_shape(body: bytes) -> None:
    """Refuse shapes no mail client produces before the (pure Python) parser spends seconds."""
    ends = [i for i in (body.find(b"\r\n\r\n"), body.find(b"\n\n")) if i >= 0]
    if body.count(b"\n", 0, min(ends, default=len(body))) > _MAX_HEADER_LINES:
        raise InvalidInput("body", f"more than {_MAX_HEADER_LINES} header lines", status=400)
    if body.count(b"\n--") > _MAX_BOUNDARY_LINES:
        raise InvalidInput("body", "too many MIME parts", status=400)


def from_mime(body: bytes, received_at: datetime) -> InboundMessage:
    _check_shape(body)
    try:
        message = email.message_from_bytes(body, policy=email.policy.compat32)
        headers = _headers(message)
        parts = _Parts(message)
    except _PARSE_ERRORS:
        raise InvalidInput("body", "not a readable MIME message", status=400) from None
    sender = decode_header(headers.get("from", ""))
    if not sender:
        raise InvalidInput("header From", "missing or empty")
    derived: dict[str, AttributeValue] = {}
    own_id = msgid.normalize_message_id(decode_header(headers.get("message-id", "")))
    if own_id is None:
        broken_head = any(
            isinstance(defect, email.errors.MissingHeaderBodySeparatorDefect)
            for defect in message.defects
        )
        own_id = _derived_id(headers, body, broken_head=broken_head)
        derived["email_message_id_derived"] = True
    plain = "\n\n".join(t for t in (fields.clean_text(p) for p in parts.plain) if t)
    text = plain or "\n\n".join(html_to_text(h) for h in parts.html)
    subject = decode_header(headers.get("subject", ""))
    if not text.strip() and not subject and not parts.attachments:
        raise InvalidInput("body", "no text part, subject or attachment")
    to = decode_header(headers.get("to", ""))
    derived["email_to"] = ", ".join(addresses(to))[:1_000] or None
    derived["email_attachments"] = parts.attachments or None
    derived["email_attachment_bytes"] = parts.attachment_bytes or None
    return email_envelope(
        message_id=own_id,
        in_reply_to=msgid.parse_id_list(decode_header(headers.get("in-reply-to", ""))),
        references=msgid.parse_id_list(decode_header(headers.get("references", ""))),
        sender=sender,
        subject=subject,
        text=text,
        received_at=received_at,
        sent_at=_date(headers.get("date")),
        derived=derived,
    )
