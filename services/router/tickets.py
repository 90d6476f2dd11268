"""Threading: which ticket a message belongs to, and what it does to that ticket.

Pure logic over the state read for one batch, so the store can do its I/O in a few bulk queries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from shared.models import InboundMessage

Change = Literal["created", "appended", "reopened"]


@dataclass
class TicketState:
    ticket_id: uuid.UUID
    status: str
    priority: str
    skill_group: str
    intent: str
    customer_id: uuid.UUID | None
    created_at: datetime
    is_new: bool = False
    dirty: bool = False
    reopened: bool = False
    waiting_since: datetime | None = None
    assigned_agent: str | None = None
    keys: set[str] = field(default_factory=set)


def lookup_keys(message: InboundMessage) -> list[str]:
    """Keys to look a message's ticket up by, most specific first."""
    keys = [message.conversation_key]
    keys.extend(f"email:{ref}" for ref in message.references)
    return keys


def own_keys(message: InboundMessage) -> list[str]:
    """Keys later messages may use to find this message's ticket."""
    keys = [message.conversation_key]
    if message.channel == "email":
        keys.append(f"email:{message.external_id}")
    return keys


def apply_message(
    ticket: TicketState, *, priority: str, skill_group: str, intent: str, at: datetime
) -> Change:
    """A customer wrote again: reopen a resolved ticket, raise priority if the news is worse."""
    change: Change = "appended"
    if ticket.status == "resolved":
        # Back to the queue: whoever is free first picks it up again.
        ticket.status = "waiting"
        ticket.assigned_agent = None
        ticket.waiting_since = at
        ticket.reopened = True
        change = "reopened"
    elif ticket.status == "waiting_on_customer":
        ticket.status = "assigned" if ticket.assigned_agent else "waiting"
    if priority < ticket.priority:  # "P1" < "P2": the more urgent news wins
        ticket.priority = priority
    if skill_group == "security" and ticket.skill_group != "security":
        # Theft goes first: a thread that turns into a theft report moves to the security lane.
        ticket.skill_group = skill_group
        ticket.intent = intent
    ticket.dirty = True
    return change
