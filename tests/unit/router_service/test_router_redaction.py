"""The router redacts again, merges what the intake already redacted, and flags the ticket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.intake.channels.redacting import redact_envelope
from services.router.rules import RulesHolder
from services.router.store import Routed
from services.router.triage_pool import triage_one
from shared.models import Channel, InboundMessage

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CARD = "6222 0212 3456 7894"


def _message(channel: Channel, body: str, **extra: object) -> InboundMessage:
    return InboundMessage(
        message_id=str(uuid.uuid4()),
        channel=channel,
        external_id="x",
        conversation_key=f"{channel}:x",
        received_at=NOW,
        body=body,
        **extra,  # type: ignore[arg-type]
    )


def _routed(message: InboundMessage) -> Routed:
    return Routed(message, *triage_one(RulesHolder(None).current, message))


def test_counts_from_the_intake_and_the_router_add_up_without_double_counting() -> None:
    raw = _message("social", f"卡号 {CARD} 被盗刷了，电话13812345678", visibility="public")
    published = redact_envelope(raw)
    assert published.redactions == {"card_number": 1, "phone": 1}
    verdict = triage_one(RulesHolder(None).current, published)
    assert verdict.redactions == {"card_number": 1, "phone": 1}
    assert verdict.body == published.body
    # A message the intake did not redact (an older intake): the router finds the same.
    assert triage_one(RulesHolder(None).current, raw).redactions == verdict.redactions


def test_a_redacted_message_is_classified_like_the_original() -> None:
    triage = RulesHolder(None).current
    for channel, text in [
        ("social", f"我的卡 {CARD} 被盗刷了，电话13812345678"),
        ("chat", f"扣款了但是支付失败，卡号 {CARD}"),
        ("chat", f"top-up of 500 not arrived, card {CARD}"),
    ]:
        raw = _message(channel, text, visibility="public" if channel == "social" else None)  # type: ignore[arg-type]
        a, b = triage_one(triage, raw), triage_one(triage, redact_envelope(raw))
        assert (a.intent, a.skill_group, a.priority, a.language) == (
            b.intent,
            b.skill_group,
            b.priority,
            b.language,
        )


def test_the_redacted_flag_is_set_whenever_something_was_redacted() -> None:
    for channel in ("chat", "email", "phone"):
        masked = _routed(redact_envelope(_message(channel, f"card {CARD}")))
        assert masked.redactions == {"card_number": 1} and masked.redacted
        unmasked = _routed(_message(channel, f"card {CARD}"))
        assert unmasked.redactions == {"card_number": 1} and unmasked.redacted
        assert not _routed(_message(channel, "the app crashes")).redacted
    assert _routed(_message("social", "the app crashes", visibility="private")).redacted


def test_unknown_kinds_from_the_envelope_are_not_counted() -> None:
    message = _message("chat", "the app crashes", redactions={"card_number": 2, "x" * 40: 1})
    verdict = triage_one(RulesHolder(None).current, message)
    assert verdict.redactions == {"card_number": 2}
