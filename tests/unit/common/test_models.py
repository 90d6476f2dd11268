"""The event contract: versioned, offset-carrying timestamps, UUID ids."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from shared.models import Escalation, InboundMessage, TicketLifecycle, TicketRouted

_ID = "0b1f8a52-6d6b-5c1e-9a0e-3f4d2c1b0a99"


def _inbound(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schema": "inbound.message.v1",
        "message_id": _ID,
        "channel": "chat",
        "external_id": "s-1",
        "conversation_key": "chat:s-1",
        "received_at": "2026-11-22T08:00:00+08:00",
        "body": "hello",
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("struct", "schema"),
    [
        (InboundMessage, "inbound.message.v1"),
        (TicketRouted, "tickets.routed.v1"),
        (TicketLifecycle, "tickets.lifecycle.v1"),
        (Escalation, "sla.escalations.v1"),
    ],
)
def test_every_event_names_its_schema_version(struct: type[msgspec.Struct], schema: str) -> None:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    assert (info.tag_field, info.tag) == ("schema", schema)


def test_encoded_envelope_carries_the_schema_even_with_defaults_omitted() -> None:
    message = InboundMessage(
        message_id=_ID,
        channel="chat",
        external_id="s-1",
        conversation_key="chat:s-1",
        received_at=datetime(2026, 11, 22, tzinfo=UTC),
        body="hi",
    )
    assert msgspec.json.decode(msgspec.json.encode(message))["schema"] == "inbound.message.v1"


def test_a_valid_envelope_decodes() -> None:
    message = msgspec.json.decode(msgspec.json.encode(_inbound()), type=InboundMessage)
    assert message.received_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"schema": "inbound.message.v2"}, "$.schema"),
        ({"message_id": "not-a-uuid"}, "$.message_id"),
        ({"message_id": _ID.upper()}, "$.message_id"),
        ({"received_at": "2026-11-22T08:00:00"}, "$.received_at"),
        ({"sent_at": "2026-11-22T08:00:00"}, "$.sent_at"),
    ],
)
def test_envelopes_that_break_the_contract_are_refused(
    overrides: dict[str, object], path: str
) -> None:
    with pytest.raises(msgspec.ValidationError, match=path.replace("$", r"\$")):
        msgspec.json.decode(msgspec.json.encode(_inbound(**overrides)), type=InboundMessage)
