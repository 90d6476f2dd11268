"""Shared checks of the property tests: what "never fails" means for an intake result.

Whatever is accepted must also survive the trip to Kafka (JSON round trip), carry no control
characters that PostgreSQL would refuse, and be a pure function of its input; whatever is not
must be an InvalidInput or UnsupportedMediaType.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
from hypothesis import HealthCheck, settings

from services.intake.channels import (
    InvalidInput,
    UnsupportedMediaType,
    normalize,
    normalize_batch,
)
from shared.models import InboundMessage
from tests.unit.intake.intake_samples import JSON, NOW, RFC822, call, chat, json_email, social

FUZZ = settings(
    max_examples=int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "250")),  # raise for a long campaign
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALID: dict[str, dict[str, Any]] = {
    "phone": call(voicemail_text="请回电", customer={"id": "u1"}, attributes={"tier": "vip"}),
    "email": json_email(
        html="<p>x</p>",
        in_reply_to="<a@b>",
        references=["<r@b>"],
        attachments=[{"filename": "a.png", "size": 3}],
    ),
    "chat": chat(customer={"email": "a@b.cn"}),
    "social": social(thread_id="t1"),
}
KEYS = sorted({key for payload in VALID.values() for key in payload} | {"customer", "attributes"})
CONTENT_TYPES = [JSON, RFC822, "text/plain", "application/json; charset=latin-1", ""]


def no_control_characters(value: Any) -> None:
    if isinstance(value, str):
        assert not any((ord(ch) < 32 and ch not in "\t\n\r") or ch == "\x7f" for ch in value)
    elif isinstance(value, dict):
        for key, item in value.items():
            no_control_characters(key)
            no_control_characters(item)
    elif isinstance(value, list):
        for item in value:
            no_control_characters(item)


def check_envelope(message: InboundMessage, again: InboundMessage) -> None:
    assert message == again, "normalize must be a pure function of its input"
    encoded = msgspec.json.encode(message)
    assert msgspec.json.decode(encoded, type=InboundMessage) == message
    no_control_characters(msgspec.json.decode(encoded))
    assert message.message_id and message.external_id and message.conversation_key


def check(channel: str, body: bytes, content_type: str = JSON) -> None:
    try:
        message = normalize(channel, body, content_type, NOW)
    except (InvalidInput, UnsupportedMediaType) as error:
        assert str(error)
        return
    check_envelope(message, normalize(channel, body, content_type, NOW))


def check_batch(channel: str, body: bytes) -> None:
    try:
        results = normalize_batch(channel, body, NOW)
    except InvalidInput:
        return
    again = normalize_batch(channel, body, NOW)
    for result, repeat in zip(results, again, strict=True):
        if isinstance(result, InboundMessage):
            assert isinstance(repeat, InboundMessage)
            check_envelope(result, repeat)
        else:
            assert isinstance(result, InvalidInput) and result.field.startswith("$.messages[")
