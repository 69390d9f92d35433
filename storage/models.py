"""Table rows (SQLAlchemy 2, typed) and their mapping to and from the domain dataclasses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from workflows.model import (
    Customer,
    EventKind,
    Form,
    Plan,
    Priority,
    Requester,
    Status,
    Ticket,
    TicketEvent,
    TicketForm,
)

# Stable constraint names, so later migrations can drop or alter them by name on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MM_ID = 26  # Mattermost ids are 26 characters
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; always read back as an aware UTC datetime.

    PostgreSQL keeps the zone (timestamptz); SQLite stores text and drops it, so we convert to
    UTC on the way in (also for query parameters) and attach UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: storage takes aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_priority_created_at", "status", "priority", "created_at"),
        # The SLA sweep reads only tickets that have a deadline, in deadline order.
        Index(
            "ix_tickets_next_deadline_at",
            "next_deadline_at",
            "id",
            postgresql_where=text("next_deadline_at IS NOT NULL"),
            sqlite_where=text("next_deadline_at IS NOT NULL"),
        ),
        Index("ix_tickets_assignee_id_status", "assignee_id", "status"),
        # summary (issue 7): "Pending longer than N days", index-only (migration 0005)
        Index("ix_tickets_status_updated_at", "status", "updated_at"),
        Index("ix_tickets_requester_id", "requester_id"),
        # Tickets stored but not yet (fully) announced: the retry job reads only these.
        Index(
            "ix_tickets_unannounced",
            "id",
            postgresql_where=text("card_post_id IS NULL OR customer_root_id IS NULL"),
            sqlite_where=text("card_post_id IS NULL OR customer_root_id IS NULL"),
        ),
        # Ticket numbers are shown to users (#1042): SQLite must never reuse a deleted one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    environment: Mapped[str | None] = mapped_column(String(64))
    mattermost_version: Mapped[str | None] = mapped_column(String(64))
    mobile_version: Mapped[str | None] = mapped_column(String(64))
    mobile_device: Mapped[str | None] = mapped_column(String(128))
    cc_user_ids: Mapped[list[str]] = mapped_column(JsonDoc)
    requester_id: Mapped[str] = mapped_column(String(MM_ID))
    requester_username: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(String(MM_ID))
    hold: Mapped[bool] = mapped_column(Boolean)
    card_post_id: Mapped[str | None] = mapped_column(String(MM_ID), unique=True)
    customer_channel_id: Mapped[str | None] = mapped_column(String(MM_ID))
    customer_root_id: Mapped[str | None] = mapped_column(String(MM_ID), unique=True)
    next_deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    follow_up_of: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @classmethod
    def from_domain(cls, ticket: Ticket) -> TicketRow:
        row = cls(id=ticket.id)
        row.update_from(ticket)
        return row

    def update_from(self, ticket: Ticket) -> None:
        """Copy every mutable field of `ticket` onto this row (everything but the id)."""
        for name, value in ticket_fields(ticket).items():
            setattr(self, name, value)

    def to_domain(self) -> Ticket:
        return ticket_from_row([getattr(self, c.key) for c in TICKET_COLUMNS])


class TicketCcRow(Base):
    """One CC'd user of a ticket: an indexed copy of tickets.cc_user_ids for "involving me"."""

    __tablename__ = "ticket_cc"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(MM_ID), primary_key=True, index=True)


class TicketEventRow(Base):
    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket_id_at", "ticket_id", "at"),
        Index("ix_ticket_events_at_kind", "at", "kind"),
        # summary (issue 7): rare kinds (escalation stages, pages) by time, without scanning
        # every event of the window (migration 0005); summary perf (issue 10): with the ticket,
        # so a window's tickets of some kinds are read from the index alone (migration 0008)
        Index("ix_ticket_events_kind_at_ticket_id", "kind", "at", "ticket_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str | None] = mapped_column(String(MM_ID))
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)

    @classmethod
    def from_domain(cls, event: TicketEvent) -> TicketEventRow:
        return cls(id=event.id, **event_fields(event))

    def to_domain(self) -> TicketEvent:
        return event_from_row([getattr(self, c.key) for c in EVENT_COLUMNS])


# --- rows <-> domain, one mapping each for ORM rows and Core rows (issue 10: the hot paths
# read Core rows; the ORM's instance bookkeeping cost more than the SQL) ----------------------
# value -> member: what Form(value) etc. return, without the enum call's overhead (an unknown
# value still raises ValueError through the call)
_FORMS, _PRIORITIES = Form._value2member_map_, Priority._value2member_map_
_PLANS, _STATUSES = Plan._value2member_map_, Status._value2member_map_
_KINDS = EventKind._value2member_map_

# the columns `ticket_from_row` reads, in its order
TICKET_COLUMNS = tuple(TicketRow.__table__.c[name] for name in (
    "id", "form", "subject", "description", "category", "priority", "environment",
    "mattermost_version", "mobile_version", "mobile_device", "cc_user_ids", "requester_id",
    "requester_username", "organisation", "plan", "status", "assignee_id", "hold", "card_post_id",
    "customer_channel_id", "customer_root_id", "next_deadline_at", "follow_up_of", "created_at",
    "updated_at"))
# the columns `event_from_row` reads, in its order
EVENT_COLUMNS = tuple(TicketEventRow.__table__.c[name] for name in (
    "id", "ticket_id", "kind", "at", "actor_id", "from_value", "to_value", "data"))


def ticket_fields(ticket: Ticket) -> dict[str, Any]:
    """The ticket's column values, all but the id."""
    form, requester = ticket.form, ticket.requester
    return {
        "form": form.form.value, "subject": form.subject, "description": form.description,
        "category": form.category, "priority": form.priority.value,
        "environment": form.environment, "mattermost_version": form.mattermost_version,
        "mobile_version": form.mobile_version, "mobile_device": form.mobile_device,
        "cc_user_ids": list(form.cc_user_ids), "requester_id": requester.user_id,
        "requester_username": requester.username, "organisation": requester.organisation,
        "plan": requester.plan.value if requester.plan else None, "status": ticket.status.value,
        "assignee_id": ticket.assignee_id, "hold": ticket.hold,
        "card_post_id": ticket.card_post_id, "customer_channel_id": ticket.customer_channel_id,
        "customer_root_id": ticket.customer_root_id, "next_deadline_at": ticket.next_deadline_at,
        "follow_up_of": ticket.follow_up_of, "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def ticket_from_row(row: Any) -> Ticket:
    """A row of `TICKET_COLUMNS` (a Core row, or an ORM row's values) as the domain ticket."""
    (tid, form, subject, description, category, priority, environment, mattermost_version,
     mobile_version, mobile_device, cc_user_ids, requester_id, requester_username, organisation,
     plan, status, assignee_id, hold, card_post_id, customer_channel_id, customer_root_id,
     next_deadline_at, follow_up_of, created_at, updated_at) = row
    return Ticket(
        tid,
        TicketForm(_FORMS.get(form) or Form(form), subject, description, category,
                   _PRIORITIES.get(priority) or Priority(priority), environment,
                   mattermost_version, mobile_version, mobile_device, tuple(cc_user_ids or ())),
        Requester(requester_id, requester_username, organisation,
                  (_PLANS.get(plan) or Plan(plan)) if plan else None),
        _STATUSES.get(status) or Status(status), created_at, updated_at, assignee_id, hold,
        card_post_id, customer_channel_id, customer_root_id, next_deadline_at, follow_up_of,
    )


def event_fields(event: TicketEvent) -> dict[str, Any]:
    """The event's column values, all but the id."""
    return {"ticket_id": event.ticket_id, "kind": event.kind.value, "at": event.at,
            "actor_id": event.actor_id, "from_value": event.from_value,
            "to_value": event.to_value, "data": dict(event.data)}


def event_from_row(row: Any) -> TicketEvent:
    """A row of `EVENT_COLUMNS` as the domain event."""
    eid, tid, kind, at, actor, before, after, data = row
    return TicketEvent(tid, _KINDS.get(kind) or EventKind(kind), at, actor, before, after,
                       dict(data or {}), eid)


class CustomerRow(Base):
    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    plan: Mapped[str | None] = mapped_column(String(16))
    email_domains: Mapped[list[str]] = mapped_column(JsonDoc)
    usernames: Mapped[list[str]] = mapped_column(JsonDoc)

    @classmethod
    def from_domain(cls, customer: Customer) -> CustomerRow:
        return cls(
            name=customer.name,
            plan=customer.plan.value if customer.plan else None,
            email_domains=list(customer.email_domains),
            usernames=list(customer.usernames),
        )

    def to_domain(self) -> Customer:
        return Customer(
            name=self.name,
            plan=Plan(self.plan) if self.plan else None,
            email_domains=tuple(self.email_domains or ()),
            usernames=tuple(self.usernames or ()),
        )


class ClaimRow(Base):
    """An exactly-once marker: the primary key (kind, key) makes the first insert win."""

    __tablename__ = "claims"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
