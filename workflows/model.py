"""Tickets, events and their vocabulary. Pure: no I/O, no clock, no SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# Sort order for queues: most urgent first.
PRIORITY_RANK: dict[Priority, int] = {
    Priority.URGENT: 0,
    Priority.HIGH: 1,
    Priority.NORMAL: 2,
    Priority.LOW: 3,
}


class Plan(StrEnum):
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class Form(StrEnum):
    TECHNICAL = "technical"
    SALES = "sales"


class EventKind(StrEnum):
    """Past-tense facts written to a ticket's log; every later feature adds its own."""

    OPENED = "opened"
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    PUBLIC_REPLY = "public_reply"  # staff -> customer
    CUSTOMER_MESSAGE = "customer_message"  # customer -> ticket
    INTERNAL_NOTE = "internal_note"
    HOLD_CHANGED = "hold_changed"
    REOPENED = "reopened"
    CSAT_RATED = "csat_rated"
    SLA_WARNED = "sla_warned"
    SLA_BREACHED = "sla_breached"
    PAGED = "paged"
    PAGE_ACKNOWLEDGED = "page_acknowledged"
    PAGE_RESOLVED = "page_resolved"
    ESCALATED = "escalated"
    ESCALATION_STAGE = "escalation_stage"
    ANNOUNCED = "announced"


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer organisation from config: who belongs to it and which plan it bought."""

    name: str
    plan: Plan | None
    email_domains: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketForm:
    """What the requester typed into the intake dialog, already validated."""

    form: Form
    subject: str
    description: str
    category: str
    priority: Priority = Priority.NORMAL  # the Sales form has no priority: Normal
    environment: str | None = None
    mattermost_version: str | None = None
    mobile_version: str | None = None
    mobile_device: str | None = None
    cc_user_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Requester:
    """The Mattermost user who opened the ticket, and the organisation they belong to."""

    user_id: str
    username: str
    organisation: str | None = None
    plan: Plan | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    """One support ticket. `id` is the number users see as #1042 (None before it is stored)."""

    id: int | None
    form: TicketForm
    requester: Requester
    status: Status
    created_at: datetime
    updated_at: datetime
    assignee_id: str | None = None
    hold: bool = False  # "do not close" flag
    card_post_id: str | None = None  # the card in ~Customer Support (root of the staff thread)
    customer_channel_id: str | None = None  # the requester's DM channel with the bot
    customer_root_id: str | None = None  # root of the customer's conversation thread
    next_deadline_at: datetime | None = None
    follow_up_of: int | None = None

    @property
    def priority(self) -> Priority:
        return self.form.priority

    @property
    def plan(self) -> Plan | None:
        return self.requester.plan


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One entry of a ticket's audit log: who did what, when, from what to what."""

    ticket_id: int
    kind: EventKind
    at: datetime
    actor_id: str | None = None
    from_value: str | None = None
    to_value: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
