"""Redaction before publishing: nothing personal from a social post, and no card number from
any channel, ever reaches Kafka (SPEC §3 "Redaction"; PCI).

Runs on the finished envelope, after the message id was derived from the original text, so a
retried post keeps its id. Every text the envelope carries is covered: body (the transcript
and voicemail of a call), subject, quoted history and the free attribute values (on social
as fully as the text); the ``customer`` identity and the platform's own ids are structured
fields the router needs as they are. A non-social message without 13 digits in a row pays one
regex scan per field. What was taken out travels as counts per kind in ``redactions``; the
router redacts again (defence in depth) and adds what it finds.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from shared.models import AttributeValue, InboundMessage
from shared.redaction import CARD_MIN_DIGITS, may_hold_card, merge_counts, redact

# Identifiers the social platform gave the post: kept as they are, like ``external_id``.
_PLATFORM_IDS = frozenset({"social_post_id", "social_thread_id", "social_author_id", "social_url"})
_CARD_INT = 10 ** (CARD_MIN_DIGITS - 1)  # the smallest integer with as many digits as a card


def redact_envelope(message: InboundMessage) -> InboundMessage:
    """The envelope as it may be published; the same object when there was nothing to take."""
    full = message.channel == "social"
    if not full and not _may_hold_card(message):
        return message
    found: list[dict[str, int]] = []
    changes: dict[str, object] = {}
    for name in ("body", "subject", "quoted"):
        value = getattr(message, name)
        if value:
            result = redact(value, full=full)
            if result.counts:
                changes[name] = result.text
                found.append(dict(result.counts))
    attributes: dict[str, AttributeValue] | None = None
    for key, value in _free_texts(message):
        result = redact(value, full=full)
        if result.counts:
            attributes = attributes if attributes is not None else dict(message.attributes)
            attributes[key] = result.text
            found.append(dict(result.counts))
    if not found:
        return message
    if attributes is not None:
        changes["attributes"] = attributes
    return msgspec.structs.replace(
        message, redactions=merge_counts(message.redactions, *found), **changes
    )


def _may_hold_card(message: InboundMessage) -> bool:
    """Whether any text ``redact`` would read off a non-social envelope may hold a card: the
    common answer, no, costs one regex scan per text (a value shorter than 13 characters
    cannot hold 13 digits)."""
    if any(
        text and may_hold_card(text) for text in (message.body, message.subject, message.quoted)
    ):
        return True
    return any(
        len(value) >= CARD_MIN_DIGITS and may_hold_card(value) for _, value in _free_texts(message)
    )


def _free_texts(message: InboundMessage) -> Iterator[tuple[str, str]]:
    """The attribute values redaction reads, as text: strings, and integers long enough to be
    a card (``{"n": 6222020200112233446}`` is one). A social post's own ids (one token each,
    social.py) are kept as the platform gave them."""
    social = message.channel == "social"
    for key, value in message.attributes.items():
        if isinstance(value, str):
            if social and key in _PLATFORM_IDS:
                continue
            yield key, value
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _CARD_INT:
            yield key, str(value)
