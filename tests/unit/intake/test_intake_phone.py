"""Hotline call records → envelopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.channels import InvalidInput
from shared.models import message_id_for
from tests.unit.intake.intake_samples import NOW, call, post


def test_call_record_becomes_an_envelope() -> None:
    message = post("phone", call())
    assert message.channel == "phone"
    assert message.external_id == "CTI-20261102-000123"
    assert message.message_id == message_id_for("phone", "CTI-20261102-000123")
    assert message.conversation_key == "phone:CTI-20261102-000123"
    assert message.body.startswith("您好，我的手机昨天被偷了")
    assert message.ivr_selection == ["2", "1"]
    assert message.customer.phone == "+8613800138000"
    assert message.language == "zh"
    assert message.sent_at == datetime(2026, 11, 2, 2, 5, 11, tzinfo=UTC)


def test_pure_ivr_call_has_an_empty_body() -> None:
    payload = call(transcript=None, ivr_selection=["1", "*", "#", "9"])
    del payload["transcript"]
    message = post("phone", payload)
    assert message.body == ""
    assert message.ivr_selection == ["1", "*", "#", "9"]


def test_transcript_and_voicemail_are_both_in_the_body() -> None:
    message = post("phone", call(transcript="Agent: hello", voicemail_text="Call me back please"))
    assert message.body == "Agent: hello\n\nCall me back please"
    assert message.attributes["phone_voicemail"] is True


def test_call_start_is_the_arrival_time_when_earlier_than_intake() -> None:
    assert post("phone", call()).received_at == datetime(2026, 11, 2, 2, 5, 11, tzinfo=UTC)
    early = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    assert post("phone", call(), received_at=early).received_at == early


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("+86-138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("010 6552 9988", "+861065529988"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("anonymous", None),
        ("+", None),
    ],
)
def test_caller_number_is_normalized(caller: str, expected: str | None) -> None:
    assert post("phone", call(**{"from": caller})).customer.phone == expected


def test_posted_customer_wins_over_caller_number() -> None:
    message = post("phone", call(customer={"id": "u-1", "phone": "13900139000"}))
    assert message.customer.id == "u-1"
    assert message.customer.phone == "+8613900139000"


def test_same_call_is_the_same_message_and_another_call_is_not() -> None:
    first = post("phone", call())
    again = post("phone", call(), received_at=datetime(2026, 11, 3, tzinfo=UTC))
    other = post("phone", call(call_id="CTI-20261102-000124"))
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id


def test_updated_transcript_of_the_same_call_keeps_its_id() -> None:
    assert (
        post("phone", call(transcript="a")).message_id
        == post("phone", call(transcript="b")).message_id
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ivr_selection": ["1", "x"]}, "$.ivr_selection[1]"),
        ({"ivr_selection": "12"}, "$.ivr_selection"),
        ({"started_at": "2026-11-02T10:05:11"}, "$.started_at"),
        ({"started_at": "1900-01-01T00:00:00+00:00"}, "$.started_at"),
        ({"call_id": "   "}, "$.call_id"),
        ({"from": ""}, "$.from"),
        ({"language": "中文"}, "$.language"),
        ({"transcript": 42}, "$.transcript"),
    ],
)
def test_bad_call_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        post("phone", call(**change))
    assert error.value.field == field


def test_received_at_without_zone_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert post("phone", call(started_at="2026-11-03T00:00:00+00:00"), naive).received_at == NOW


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("１３８ ００１３ ８０００", "+8613800138000"),  # full-width digits: the same number
        ("＋86 138 0013 8000", "+8613800138000"),
        ("¹³⁸⁰⁰¹³⁸⁰⁰⁰", None),  # superscripts are not digits of a number
        ("+⁸⁶13812345678", None),  # nor is a number with some: without them, another one
        ("+" * 40 + "8613800138000", "+8613800138000"),  # one plus, in front
        ("   ", None),  # withheld: the call is still a call
    ],
)
def test_the_caller_number_is_read_from_its_decimal_digits(
    caller: str, expected: str | None
) -> None:
    assert post("phone", call(**{"from": caller})).customer.phone == expected
