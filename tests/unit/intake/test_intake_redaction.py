"""What the intake publishes: social posts redacted, card numbers masked on every channel, the
message id still derived from what was posted."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import msgspec
import pytest

from services.intake.channels import InvalidInput, normalize_batch
from services.intake.channels.redacting import redact_envelope
from shared.models import InboundMessage
from tests.unit.intake.intake_samples import call, chat, json_email, post, post_mime, social
from tests.unit.triage.triage_gen import card_number, grouped

CARD = card_number(random.Random(4), 16, "62")
SHOWN = grouped(CARD, ".")
MASK = f"[card ****{CARD[-4:]}]"


def _raw(message: InboundMessage) -> bytes:
    return msgspec.json.encode(message)


def test_cards_are_masked_in_every_text_of_a_call() -> None:
    message = post(
        "phone",
        call(transcript=f"卡号是 {SHOWN}，被盗刷了", voicemail_text=f"card {CARD} again"),
    )
    assert CARD not in _raw(message).decode() and SHOWN not in _raw(message).decode()
    assert message.body == f"卡号是 {MASK}，被盗刷了\n\ncard {MASK} again"
    assert message.redactions == {"card_number": 2}
    assert message.message_id == post("phone", call()).message_id  # keyed by call_id


def test_cards_are_masked_in_email_subject_body_and_quoted_history() -> None:
    message = post(
        "email",
        json_email(
            subject=f"card {CARD}",
            text=f"Please block {SHOWN}.\n\nOn Mon, Li wrote:\n> my card {grouped(CARD)}",
        ),
    )
    assert CARD[:12] not in _raw(message).decode().replace(" ", "").replace(".", "")
    assert message.subject == f"card {MASK}"
    assert message.body.startswith(f"Please block {MASK}.")
    assert message.quoted is not None and MASK in message.quoted
    assert message.redactions == {"card_number": 3}


def test_raw_mime_email_is_masked_too() -> None:
    raw = (
        "From: li@example.com\r\nTo: support@wallet.example\r\nSubject: card\r\n"
        "Message-ID: <m1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"my card {CARD}\r\n"
    ).encode()
    message = post_mime(raw)
    assert message.body == f"my card {MASK}" and message.redactions == {"card_number": 1}


def test_chat_card_is_masked_but_phone_and_email_stay() -> None:
    text = f"卡 {SHOWN} 电话13812345678 邮箱 li@example.com"
    message = post("chat", chat(text=text))
    assert message.body == f"卡 {MASK} 电话13812345678 邮箱 li@example.com"
    assert message.redactions == {"card_number": 1}


def test_social_post_is_fully_redacted_before_publishing() -> None:
    text = f"@WalletCS 卡号 {SHOWN} 被盗刷，电话 13812345678，邮箱 li@example.com，验证码：８８９９００"
    message = post("social", social(text=text))
    published = _raw(message).decode()
    for value in (CARD[-8:], "13812345678", "li@example.com", "８８９９００"):
        assert value not in published
    assert message.redactions == {
        "card_number": 1,
        "phone": 1,
        "email": 1,
        "verification_code": 1,
    }
    # The id is the platform's, and the platform's own ids stay readable.
    assert message.message_id == post("social", social()).message_id
    assert message.attributes["social_post_id"] == "4962311234567890"


def test_chat_without_id_keeps_the_id_of_the_original_text() -> None:
    payload = chat(text=f"card {CARD}")
    payload.pop("message_id")
    first = post("chat", payload)
    assert first.body == f"card {MASK}"
    other = chat(text=f"card {card_number(random.Random(5), 16, '62')}")
    other.pop("message_id")
    # Two different cards, the same masked text if the last four matched: ids still differ.
    assert post("chat", other).message_id != first.message_id
    assert post("chat", payload).message_id == first.message_id


def test_free_attributes_are_masked() -> None:
    message = post("chat", chat(attributes={"note": f"card {CARD}", "tier": "vip"}))
    assert message.attributes["note"] == f"card {MASK}"
    assert message.attributes["tier"] == "vip"
    assert message.redactions == {"card_number": 1}


def test_a_card_posted_as_a_number_is_masked() -> None:
    message = post("chat", chat(attributes={"n": int(CARD), "count": 12}))
    assert message.attributes["n"] == MASK and message.attributes["count"] == 12
    assert message.redactions == {"card_number": 1}


@pytest.mark.parametrize("key", ["social_url", "social_post_id", "social_thread_id"])
def test_a_platform_id_name_posted_on_another_channel_is_free_text(key: str) -> None:
    message = post("chat", chat(attributes={key: f"card {CARD}"}))
    assert message.attributes[key] == f"card {MASK}"


def test_a_social_attribute_the_intake_did_not_derive_cannot_be_posted() -> None:
    """Without a ``thread_id`` the intake derives no ``social_thread_id``: a posted one, kept,
    would pass for the platform's and skip redaction."""
    payload = social(attributes={"social_thread_id": f"card {CARD} 13812345678"})
    message = post("social", payload)
    assert "social_thread_id" not in message.attributes
    assert CARD not in _raw(message).decode()


@pytest.mark.parametrize("field", ["thread_id", "post_id", "url"])
def test_a_platform_id_holding_text_is_refused(field: str) -> None:
    """Ids key the message and its thread unredacted: one holding text is no id."""
    with pytest.raises(InvalidInput) as refused:
        post("social", social(**{field: f"card {CARD} call 13812345678"}))
    assert refused.value.field == f"$.{field}"
    plain = post("social", social(thread_id="4962311234567890"))
    assert plain.attributes["social_thread_id"] == "4962311234567890"  # an id stays an id


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_an_invisible_character_between_groups_is_a_separator(invisible: str) -> None:
    shown = invisible.join(grouped(CARD).split(" "))
    message = post("chat", chat(text=f"card {shown}"))
    assert message.body == f"card {MASK}"


def test_nothing_to_redact_leaves_the_envelope_as_it_was() -> None:
    message = post("chat", chat())
    assert message.redactions == {}
    assert b"redactions" not in _raw(message)  # omitted when empty: old consumers see no change
    assert redact_envelope(message) is message


def test_batch_items_are_redacted() -> None:
    body = msgspec.json.encode({"messages": [chat(text=f"card {CARD}"), chat(message_id="m2")]})
    first, second = normalize_batch("chat", body, datetime(2026, 11, 2, tzinfo=UTC))
    assert isinstance(first, InboundMessage) and first.body == f"card {MASK}"
    assert isinstance(second, InboundMessage) and second.redactions == {}


@pytest.mark.parametrize("channel", ["chat", "phone", "email", "social"])
def test_counts_from_the_intake_survive_a_round_trip(channel: str) -> None:
    payload = {
        "chat": chat(text=f"card {CARD}"),
        "phone": call(transcript=f"card {CARD}"),
        "email": json_email(text=f"card {CARD}"),
        "social": social(text=f"card {CARD}"),
    }[channel]
    message = post(channel, payload)
    decoded = msgspec.json.decode(_raw(message), type=InboundMessage)
    assert decoded.redactions == {"card_number": 1} and decoded.body == f"card {MASK}"
