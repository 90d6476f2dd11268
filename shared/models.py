"""Messages that cross a service boundary: typed, versioned, validated where they enter.

Every event value on Kafka is a JSON object whose ``schema`` field (the struct tag, always
encoded) names its version, so a consumer can reject (dead-letter) what it does not understand
instead of guessing.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Channel = Literal["phone", "email", "chat", "social"]
CHANNELS: tuple[Channel, ...] = ("phone", "email", "chat", "social")
Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
SkillGroup = Literal[
    "security", "account", "payments", "funding", "refunds", "cards", "tech_support", "general"
]
SKILL_GROUPS: tuple[SkillGroup, ...] = (
    "security",
    "account",
    "payments",
    "funding",
    "refunds",
    "cards",
    "tech_support",
    "general",
)
Visibility = Literal["public", "private"]
LifecycleType = Literal["first_response", "waiting_on_customer", "resolved", "reopened"]
AttributeValue = str | int | float | bool | None
# A timestamp without an offset is ambiguous across the Shanghai/UTC boundary: refuse it.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
# Ids are UUIDs in canonical text form; the database keys on them, so a malformed one is refused
# at decode time (and dead-lettered) instead of blocking a partition further down.
UuidText = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
]

_MESSAGE_NAMESPACE = uuid.UUID("5f0c6a36-1d8e-4b7e-9a51-2d3c8f0b7a10")


_NAMESPACE_SHA1 = hashlib.sha1(_MESSAGE_NAMESPACE.bytes)  # noqa: S324 - RFC 4122 v5, not security


def message_id_for(channel: str, external_id: str) -> str:
    """Same channel and external id, same id: this is what makes a retried post a no-op downstream.

    Exactly ``str(uuid.uuid5(namespace, channel + "\\x1f" + external_id))``, spelled out
    because it runs once per accepted message and ``uuid.UUID`` costs several times the hash:
    the SHA-1's first 32 hex digits, with the version digit (5) and the variant digit
    (10xx: 8, 9, a or b) put in their places.
    """
    digest = _NAMESPACE_SHA1.copy()
    digest.update(f"{channel}\x1f{external_id}".encode())
    h = digest.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {digit: "89ab"[int(digit, 16) & 0b11] for digit in "0123456789abcdef"}


class Customer(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    id: str | None = None
    phone: str | None = None
    email: str | None = None


class InboundMessage(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="schema", tag="inbound.message.v1"
):
    """The normalized envelope on ``inbound.messages.v1`` (key: ``conversation_key``)."""

    message_id: UuidText
    channel: Channel
    external_id: str
    conversation_key: str
    received_at: AwareDatetime
    body: str
    customer: Customer = msgspec.field(default_factory=Customer)
    subject: str | None = None
    # Quoted history and signature, set apart so that classification sees the new text first;
    # the stored message keeps body + quoted.
    quoted: str | None = None
    language: str | None = None
    sent_at: AwareDatetime | None = None
    attributes: dict[str, AttributeValue] = msgspec.field(default_factory=dict)
    # phone
    ivr_selection: list[str] = msgspec.field(default_factory=list)
    # social
    platform: str | None = None
    visibility: Visibility | None = None
    author_handle: str | None = None
    # email threading: normalized Message-IDs of In-Reply-To then References (oldest first)
    references: list[str] = msgspec.field(default_factory=list)
    # What the intake already redacted from the text fields, by kind (counts, never values).
    redactions: dict[str, int] = msgspec.field(default_factory=dict)


class TicketRouted(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="schema", tag="tickets.routed.v1"
):
    """On ``tickets.routed.v1`` (key: ``ticket_id``): one per routed message."""

    ticket_id: UuidText
    message_id: UuidText
    channel: Channel
    priority: Priority
    skill_group: SkillGroup
    intent: str
    language: str
    ticket_created_at: AwareDatetime
    routed_at: AwareDatetime
    # "created" for a new ticket, "appended" for a customer message on an open ticket,
    # "reopened" for a customer message on a resolved one.
    change: Literal["created", "appended", "reopened"]
    visibility: Visibility | None = None
    redacted: bool = False


class TicketLifecycle(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="schema", tag="tickets.lifecycle.v1"
):
    """On ``tickets.lifecycle.v1`` (key: ``ticket_id``): what agents did."""

    event_id: UuidText
    ticket_id: UuidText
    type: LifecycleType
    agent_id: str
    at: AwareDatetime


class Escalation(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="schema", tag="sla.escalations.v1"
):
    """On ``sla.escalations.v1`` (key: ``ticket_id``): once per ticket, target and level."""

    escalation_id: UuidText
    ticket_id: UuidText
    level: int
    kind: Literal["at_risk", "breached"]
    target: Literal["first_response", "next_response", "resolution"]
    escalate_to: str
    due_at: AwareDatetime
    emitted_at: AwareDatetime
    priority: Priority
    skill_group: SkillGroup
    channel: Channel
