"""Export records and the Zendesk-style import mapping. Pure: no I/O, no clock, no SQLAlchemy.

Export: a ticket and its events become one JSON-able record (JSON lines) or one flat CSV row.
Import: a Zendesk-style export (`{"tickets": [...], "users": [...]}`) becomes `ImportedTicket`s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workflows.forms import DESCRIPTION_MAX, SUBJECT_MAX, TECHNICAL_CATEGORIES
from workflows.model import Priority, Status, Ticket, TicketEvent

# --- export ---------------------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = (
    "id", "status", "priority", "form", "category", "subject", "description",
    "requester_id", "requester_username", "organisation", "plan", "assignee_id", "hold",
    "environment", "mattermost_version", "mobile_version", "mobile_device", "cc_user_ids",
    "follow_up_of", "card_post_id", "created_at", "updated_at", "event_count",
    "first_event_at", "last_event_at", "event_kinds", "events_json",
)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def event_record(event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event.id, "kind": event.kind.value, "at": _iso(event.at), "actor_id": event.actor_id,
        "from": event.from_value, "to": event.to_value, "data": dict(event.data),
    }


def ticket_record(ticket: Ticket, events: Sequence[TicketEvent]) -> dict[str, Any]:
    """One JSON-lines record: every ticket field, and its events oldest first."""
    f, r = ticket.form, ticket.requester
    return {
        "id": ticket.id, "status": ticket.status.value, "priority": f.priority.value,
        "form": f.form.value, "category": f.category, "subject": f.subject,
        "description": f.description, "requester_id": r.user_id,
        "requester_username": r.username, "organisation": r.organisation,
        "plan": r.plan.value if r.plan else None, "assignee_id": ticket.assignee_id,
        "hold": ticket.hold, "environment": f.environment,
        "mattermost_version": f.mattermost_version, "mobile_version": f.mobile_version,
        "mobile_device": f.mobile_device, "cc_user_ids": list(f.cc_user_ids),
        "follow_up_of": ticket.follow_up_of, "card_post_id": ticket.card_post_id,
        "created_at": _iso(ticket.created_at), "updated_at": _iso(ticket.updated_at),
        "events": [event_record(e) for e in sorted(events, key=lambda e: (e.at, e.id or 0))],
    }


def csv_row(record: Mapping[str, Any]) -> dict[str, str]:
    """Flatten a ticket record for CSV: lists joined by spaces, events summarised plus as JSON."""
    events = record["events"]
    flat: dict[str, Any] = {k: record.get(k) for k in CSV_COLUMNS if k in record}
    flat["cc_user_ids"] = " ".join(record["cc_user_ids"])
    flat["event_count"] = len(events)
    flat["first_event_at"] = events[0]["at"] if events else None
    flat["last_event_at"] = events[-1]["at"] if events else None
    flat["event_kinds"] = " ".join(e["kind"] for e in events)
    flat["events_json"] = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
    return {k: "" if flat.get(k) is None else str(flat[k]).lower() if isinstance(flat[k], bool)
            else str(flat[k]) for k in CSV_COLUMNS}


# --- import ---------------------------------------------------------------------------------

SOURCE = "zendesk"
# Zendesk's statuses; "hold" (waiting on a third party) has no twin here: it stays Open.
STATUS_MAP: Mapping[str, Status] = {
    "new": Status.NEW, "open": Status.OPEN, "pending": Status.PENDING, "hold": Status.OPEN,
    "solved": Status.SOLVED, "closed": Status.CLOSED,
}
OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})
PRIORITY_MAP: Mapping[str, Priority] = {
    "urgent": Priority.URGENT, "high": Priority.HIGH, "normal": Priority.NORMAL,
    "low": Priority.LOW,
}
_CATEGORIES = {o.value for o in TECHNICAL_CATEGORIES}
DEFAULT_CATEGORY = "general"


class ImportFormatError(ValueError):
    """The file is not the accepted shape; the message names the first problem."""


@dataclass(frozen=True, slots=True)
class ImportedTicket:
    """One ticket read from the export, before its requester is matched to a Mattermost user."""

    external_id: str
    subject: str
    description: str
    status: Status
    priority: Priority
    category: str
    requester_email: str | None
    requester_name: str | None
    created_at: datetime
    updated_at: datetime
    tags: tuple[str, ...] = ()
    source_status: str = ""


def parse_time(value: Any, fallback: datetime) -> datetime:
    """Zendesk writes ISO 8601 with a Z; a naive or missing time is taken as UTC / the fallback."""
    if not isinstance(value, str) or not value.strip():
        return fallback
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _users_by_id(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    users = doc.get("users")
    users = [] if users is None else users
    if not isinstance(users, list):
        raise ImportFormatError('"users" must be a list')
    return {str(u["id"]): u for u in users if isinstance(u, Mapping) and "id" in u}


def _requester(raw: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]) -> tuple[str | None, str | None]:
    person = raw.get("requester")
    if not isinstance(person, Mapping):
        person = users.get(str(raw.get("requester_id")), {})
    email = str(person.get("email") or "").strip().lower() or None
    name = str(person.get("name") or "").strip() or None
    return email, name


def _category(raw: Mapping[str, Any], tags: tuple[str, ...]) -> str:
    fields = raw.get("custom_fields") or []
    values = [str(f.get("value")) for f in fields if isinstance(f, Mapping) and f.get("value")]
    for candidate in (*values, *tags):
        slug = candidate.strip().lower().replace("_", "-")
        if slug in _CATEGORIES:
            return slug
    return DEFAULT_CATEGORY


def parse_export(doc: Any, *, now: datetime, include_closed: bool = False) -> list[ImportedTicket]:
    """Read the accepted shape; solved and closed tickets are skipped unless `include_closed`."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tickets"), list):
        raise ImportFormatError('expected a JSON object with a "tickets" list')
    users = _users_by_id(doc)
    out: list[ImportedTicket] = []
    for n, raw in enumerate(doc["tickets"]):
        if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
            raise ImportFormatError(f"tickets[{n}]: each ticket needs an id")
        status = str(raw.get("status") or "new").lower()
        if status not in STATUS_MAP:
            raise ImportFormatError(f"tickets[{n}] (id {raw['id']}): unknown status {status!r}")
        if status not in OPEN_STATUSES and not include_closed:
            continue
        email, name = _requester(raw, users)
        tags = tuple(str(t) for t in raw.get("tags") or ())
        created = parse_time(raw.get("created_at"), now)
        out.append(ImportedTicket(
            external_id=str(raw["id"]),
            subject=(str(raw.get("subject") or "").strip() or f"Imported ticket {raw['id']}")[:SUBJECT_MAX],
            description=str(raw.get("description") or "").strip(),
            status=STATUS_MAP[status],
            priority=PRIORITY_MAP.get(str(raw.get("priority") or "normal").lower(), Priority.NORMAL),
            category=_category(raw, tags), requester_email=email, requester_name=name,
            created_at=created, updated_at=parse_time(raw.get("updated_at"), created),
            tags=tags, source_status=status,
        ))
    return out


def imported_description(t: ImportedTicket, *, requester_matched: bool) -> str:
    """The original text under a header that keeps what has no field here (who, tags, status)."""
    lines = [f"_Imported from Zendesk ticket {t.external_id}._"]
    if not requester_matched:
        who = " ".join(x for x in (t.requester_name, f"<{t.requester_email}>" if t.requester_email else None) if x)
        lines.append(f"Requester: {who or 'unknown'} (no Mattermost account matched)")
    if t.source_status == "hold":
        lines.append("Zendesk status: on-hold")
    if t.tags:
        lines.append("Tags: " + ", ".join(t.tags))
    header = "\n".join(lines) + "\n\n"
    return (header + (t.description or "(no description)"))[:DESCRIPTION_MAX]
