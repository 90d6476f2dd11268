from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.router.identity import IdentityHasher, identities, normalize_phone
from services.router.tickets import TicketState, apply_message, lookup_keys, own_keys
from shared.models import Customer, InboundMessage

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _ticket(status: str = "waiting", priority: str = "P3", group: str = "payments") -> TicketState:
    return TicketState(
        ticket_id=uuid.uuid4(),
        status=status,
        priority=priority,
        skill_group=group,
        intent="payments.failed",
        customer_id=None,
        created_at=NOW,
        assigned_agent="a1",
    )


def _email(refs: list[str]) -> InboundMessage:
    return InboundMessage(
        message_id=str(uuid.uuid4()),
        channel="email",
        external_id="m2@example.com",
        conversation_key="email:m1@example.com",
        received_at=NOW,
        body="hi",
        references=refs,
    )


def test_resolved_ticket_reopens_into_the_queue() -> None:
    ticket = _ticket(status="resolved")
    assert (
        apply_message(ticket, priority="P3", skill_group="payments", intent="x", at=NOW)
        == "reopened"
    )
    assert ticket.status == "waiting"
    assert ticket.assigned_agent is None
    assert ticket.waiting_since == NOW


def test_customer_reply_ends_waiting_on_customer() -> None:
    ticket = _ticket(status="waiting_on_customer")
    assert (
        apply_message(ticket, priority="P3", skill_group="payments", intent="x", at=NOW)
        == "appended"
    )
    assert ticket.status == "assigned"


def test_worse_news_raises_priority_and_theft_moves_lane() -> None:
    ticket = _ticket(priority="P3")
    apply_message(ticket, priority="P1", skill_group="security", intent="security.theft", at=NOW)
    assert (ticket.priority, ticket.skill_group, ticket.intent) == (
        "P1",
        "security",
        "security.theft",
    )
    apply_message(ticket, priority="P4", skill_group="general", intent="general.info", at=NOW)
    assert (ticket.priority, ticket.skill_group) == ("P1", "security")


def test_email_threads_by_references_and_own_message_id() -> None:
    message = _email(["m1@example.com", "m0@example.com"])
    assert lookup_keys(message) == [
        "email:m1@example.com",
        "email:m1@example.com",
        "email:m0@example.com",
    ]
    assert own_keys(message) == ["email:m1@example.com", "email:m2@example.com"]


def test_identities_normalize_phone_and_email() -> None:
    message = InboundMessage(
        message_id="x",
        channel="phone",
        external_id="c1",
        conversation_key="phone:c1",
        received_at=NOW,
        body="",
        customer=Customer(id="C-9", phone="+86 138-0013-8000", email=" Li@Example.COM "),
    )
    assert identities(message) == [
        ("customer_id", "C-9"),
        ("phone", "+8613800138000"),
        ("email", "li@example.com"),
    ]
    assert normalize_phone("13800138000") == "+8613800138000"
    assert normalize_phone("not a number") is None
    hasher = IdentityHasher(b"k")
    assert hasher("phone", "+8613800138000") == hasher("phone", "+8613800138000")
    assert "13800138000" not in hasher("phone", "+8613800138000")
