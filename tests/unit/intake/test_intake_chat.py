"""Chat messages → envelopes; identity with and without a client message id."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.intake.channels import InvalidInput
from shared.models import message_id_for
from tests.unit.intake.intake_samples import NOW, chat, post


def _without(*names: str, **overrides: object) -> dict[str, object]:
    payload = chat(**overrides)
    for name in names:
        payload.pop(name)
    return payload


def test_chat_with_client_id() -> None:
    message = post("chat", chat())
    assert message.external_id == "sess-7f3a9c:m-0001"
    assert message.message_id == message_id_for("chat", "sess-7f3a9c:m-0001")
    assert message.conversation_key == "chat:sess-7f3a9c"
    assert message.body == "提现失败了但是钱被扣了"
    assert message.customer.id == "u-884201"
    assert message.language == "zh"
    assert message.attributes["chat_locale"] == "zh-CN"
    assert message.received_at == NOW
    assert message.sent_at == datetime(2026, 11, 2, 2, 12, tzinfo=UTC)


def test_chat_without_client_id_is_keyed_by_session_time_and_text() -> None:
    message = post("chat", _without("message_id"))
    prefix, digest = message.external_id.rsplit(":", 1)
    assert prefix == "sess-7f3a9c:2026-11-02T02:12:00+00:00"
    assert digest == hashlib.sha256("提现失败了但是钱被扣了".encode()).hexdigest()


def test_chat_retry_without_id_is_the_same_message() -> None:
    first = post("chat", _without("message_id"))
    again = post("chat", _without("message_id"), received_at=datetime(2026, 11, 5, tzinfo=UTC))
    assert first.message_id == again.message_id


def test_same_instant_in_another_offset_is_the_same_message() -> None:
    utc = post("chat", _without("message_id", sent_at="2026-11-02T02:12:00Z"))
    assert utc.message_id == post("chat", _without("message_id")).message_id


def test_different_text_or_time_or_session_is_a_different_message() -> None:
    base = post("chat", _without("message_id")).message_id
    assert post("chat", _without("message_id", text="还有一个问题")).message_id != base
    assert (
        post("chat", _without("message_id", sent_at="2026-11-02T10:12:01+08:00")).message_id != base
    )
    assert post("chat", _without("message_id", session_id="sess-other")).message_id != base


def test_chat_without_id_or_time_is_keyed_by_session_receipt_minute_and_text() -> None:
    first = post("chat", _without("message_id", "sent_at"))
    assert first.external_id.startswith("sess-7f3a9c:~2026-11-02T02:30:00+00:00:")
    assert first.message_id == post("chat", _without("message_id", "sent_at")).message_id
    assert first.sent_at is None


def test_client_id_changes_identity_not_the_text() -> None:
    assert post("chat", chat(text="a")).message_id == post("chat", chat(text="b")).message_id
    assert post("chat", chat(message_id="m-0002")).message_id != post("chat", chat()).message_id


def test_ids_with_separators_do_not_collide() -> None:
    one = post("chat", chat(session_id="a:b", message_id="c"))
    two = post("chat", chat(session_id="a", message_id="b:c"))
    assert one.message_id != two.message_id
    assert one.conversation_key == "chat:a:b"


def test_posted_customer_object_wins_over_customer_id() -> None:
    message = post("chat", chat(customer={"id": "u-9", "email": "A@B.cn"}))
    assert message.customer.id == "u-9"
    assert message.customer.email == "a@b.cn"


def test_minimal_chat() -> None:
    message = post("chat", {"session_id": "s", "text": "hello"})
    assert message.body == "hello"
    assert message.language is None
    assert message.customer.id is None


def test_text_is_cleaned_of_control_characters() -> None:
    assert post("chat", chat(text="\x00 hi\r\nthere\x07 ")).body == "hi\nthere"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "   \n "}, "$.text"),
        ({"text": ""}, "$.text"),
        ({"session_id": ""}, "$.session_id"),
        ({"session_id": "a\x00b"}, "$.session_id"),
        ({"message_id": 7}, "$.message_id"),
        ({"sent_at": "2026-11-02 10:12"}, "$.sent_at"),
        ({"locale": "zh CN"}, "$.locale"),
        ({"customer_id": ["u"]}, "$.customer_id"),
        ({"text": "x" * 100_001}, "$.text"),
    ],
)
def test_bad_chat_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        post("chat", chat(**change))
    assert error.value.field == field


def _bare(text: str = "还没到账") -> dict[str, object]:
    return _without("message_id", "sent_at", text=text)


def test_without_id_and_time_the_minute_of_receipt_keys_the_message() -> None:
    at = datetime(2026, 11, 2, 2, 30, 5, tzinfo=UTC)
    first = post("chat", _bare(), received_at=at)
    assert first.external_id.split(":", 1)[1].startswith("~2026-11-02T02:30:00+00:00:")
    # a retry within the minute is the same message
    retry = post("chat", _bare(), received_at=at.replace(second=59, microsecond=999_999))
    assert retry.message_id == first.message_id
    # the same text a minute later is a new message, and so is other text in the same minute
    later = post("chat", _bare(), received_at=at.replace(minute=31, second=1))
    assert later.message_id != first.message_id
    assert post("chat", _bare("还有问题"), received_at=at).message_id != first.message_id


def test_a_receipt_minute_never_takes_the_id_of_a_client_time() -> None:
    at = datetime(2026, 11, 2, 2, 12, tzinfo=UTC)
    bare = post("chat", _bare(), received_at=at)
    timed = post("chat", _without("message_id", text="还没到账", sent_at="2026-11-02T02:12:00Z"))
    assert bare.message_id != timed.message_id


def test_receipt_minute_is_utc_whatever_the_clock_offset() -> None:
    utc = post("chat", _bare(), received_at=datetime(2026, 11, 2, 2, 30, 5, tzinfo=UTC))
    shanghai = datetime(2026, 11, 2, 10, 30, 40, tzinfo=timezone(timedelta(hours=8)))
    assert post("chat", _bare(), received_at=shanghai).message_id == utc.message_id
