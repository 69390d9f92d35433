"""Every user-visible sentence and card the desk posts, in one file so tone is reviewed in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from workflows import text
from workflows.forms import FORMS, label_of
from workflows.model import Form, Plan, Priority, Ticket, TicketEvent

PRIORITY_COLOUR = {
    Priority.URGENT: "#d24b4e",
    Priority.HIGH: "#f5a623",
    Priority.NORMAL: "#3b7dd8",
    Priority.LOW: "#8a8f98",
}
PLAN_LABEL = {Plan.PREMIUM: "Premium Support", Plan.ENTERPRISE: "Enterprise Support", None: "No plan"}


def ref(ticket_id: int | None) -> str:
    return f"#{ticket_id}"


def usage(entries: Sequence[tuple[str, str]], trigger: str = "ticket") -> str:
    lines = [f"**Support desk** — `/{trigger} <command>`", ""]
    lines += [f"- `/{trigger} {usage_}` — {summary}" for usage_, summary in entries]
    return "\n".join(lines)


def unknown_subcommand(name: str, entries: Sequence[tuple[str, str]], trigger: str = "ticket") -> str:
    return (f"There is no `/{trigger} {text.inline(name, max_len=40)}` command.\n\n"
            + usage(entries, trigger))


def unexpected(error_id: str) -> str:
    return f"Something went wrong on our side. If it happens again, quote error `{error_id}`."


def temporarily_unavailable() -> str:
    return "The support desk can't reach its database right now. Please try again in a minute."


STATE_REFUSED = "This form could not be verified. Please close it and run the command again."
DIALOG_FAILED = "The form could not be opened. Please run the command again."


def cc_unknown(tokens: Sequence[str]) -> str:
    names = ", ".join(text.inline(t, max_len=60) for t in tokens)
    return f"No Mattermost user matches: {names}. Use @usernames or e-mail addresses."


def _form_label(ticket: Ticket, name: str, value: str | None) -> str:
    return label_of(FORMS[ticket.form.form].fields, name, value) or "—"


def card_fields(
    ticket: Ticket, *, requester_name: str, cc_names: Sequence[str], assignee_name: str, age: str
) -> list[dict[str, Any]]:
    """The facts staff triage by, as short attachment fields."""
    f = ticket.form
    status = ticket.status.value.capitalize() + (" · on hold" if ticket.hold else "")
    fields = [
        ("Status", status, True),
        ("Assignee", assignee_name or "—", True),
        ("Requester", requester_name, True),
        ("Organisation", text.inline(ticket.requester.organisation or "—", max_len=80), True),
        ("Plan", PLAN_LABEL[ticket.plan], True),
        ("Priority", ticket.priority.value.capitalize(), True),
        ("Category", _form_label(ticket, "category", f.category), True),
        ("Age", age, True),
    ]
    if f.form is Form.TECHNICAL:
        fields += [
            ("Environment", _form_label(ticket, "environment", f.environment), True),
            ("Mattermost version", f.mattermost_version or "—", True),  # validated X.Y[.Z]
        ]
        if f.mobile_version or f.mobile_device:
            mobile = f"{_form_label(ticket, 'mobile_device', f.mobile_device)} {f.mobile_version or ''}"
            fields.append(("Mobile", mobile.strip(), True))  # a select label and a validated version
    if cc_names:
        fields.append(("CC", ", ".join(cc_names), False))
    return [{"title": t, "value": v, "short": s} for t, v, s in fields]


def ticket_card(
    ticket: Ticket, *, requester_name: str, cc_names: Sequence[str], assignee_name: str = "",
    age: str = "just now",
) -> tuple[str, dict[str, Any]]:
    """The ticket's card in ~Customer Support: a short line plus one attachment with its facts."""
    kind = "Technical" if ticket.form.form is Form.TECHNICAL else "Sales"
    message = (
        f"**{ref(ticket.id)}** {kind} ticket from {requester_name} — "
        f"{ticket.priority.value.capitalize()}"
    )
    attachment = {
        "fallback": f"{ref(ticket.id)} {text.inline(ticket.form.subject, max_len=150)}",
        "color": PRIORITY_COLOUR[ticket.priority],
        "title": f"{ref(ticket.id)} · {text.inline(ticket.form.subject, max_len=150)}",
        "text": text.block(_excerpt(ticket.form.description)),
        "fields": card_fields(ticket, requester_name=requester_name, cc_names=cc_names,
                              assignee_name=assignee_name, age=age),
        "footer": "Support Desk · reply in this thread for internal notes",
    }
    return message, {"attachments": [attachment], "supportdesk_ticket": ticket.id}


def _excerpt(description: str, limit: int = 600) -> str:
    return description if len(description) <= limit else description[:limit].rstrip() + "…"


def requester_confirmation(ticket: Ticket) -> str:
    """The first DM to the requester: the root of their conversation thread for this ticket."""
    return (
        f"Thanks — we've opened ticket **{ref(ticket.id)}**: "
        f"{text.inline(ticket.form.subject, max_len=150)}\n\n"
        f"Priority: {ticket.priority.value.capitalize()} · "
        f"Plan: {PLAN_LABEL[ticket.plan]}\n\n"
        "**Reply in this thread** to add information; our answers will arrive here too. "
        "To attach screenshots or logs, post them as files in this thread."
    )


def cc_notice(ticket: Ticket, *, requester_name: str) -> str:
    return (
        f"{requester_name} opened support ticket **{ref(ticket.id)}** and added you in CC: "
        f"{text.inline(ticket.form.subject, max_len=150)}\n\n"
        "You'll be kept informed of public replies here."
    )


def person(user: dict[str, Any]) -> str:
    """A person's name for posts, never triggering a mention."""
    return text.display_name(
        username=str(user.get("username", "")),
        first_name=str(user.get("first_name", "")),
        last_name=str(user.get("last_name", "")),
    )


ACTION_REFUSED = "This button could not be verified, so nothing was done."


def public_reply(ticket: Ticket, author_name: str, body: str) -> str:
    """A staff reply as the customer reads it in their thread."""
    return f"**{author_name}** (Support) replied on {ref(ticket.id)}:\n\n{text.block(body)}"


def customer_wrote(name: str, body: str, *, cc: bool) -> str:
    who = "CC" if cc else "customer"
    return f"**{name}** ({who}) wrote:\n\n{text.quote(text.block(body)) if body.strip() else '_(files only)_'}"


def reply_sent_copy(author_name: str, body: str) -> str:
    return f"↪ **{author_name}** replied to the customer:\n\n{text.quote(text.block(body))}"


def files_skipped(count: int) -> str:
    return f"_{count} file(s) were not relayed (too many or too large)._"


def not_in_a_ticket_thread() -> str:
    return (
        "To add to a ticket, reply in the thread of its confirmation message. "
        "To open a new ticket, use `/ticket new` (technical) or `/ticket sales`."
    )


def closed_ticket_follow_up(ticket: Ticket) -> str:
    return (
        f"Ticket {ref(ticket.id)} is closed, so this message was not added to it. "
        "If you need more help, open a follow-up ticket linked to it:"
    )


def reopened_note(ticket: Ticket, name: str) -> str:
    return f"{ref(ticket.id)} was reopened by {name}'s reply."


NOT_STAFF_ASSIGNEE = "Tickets can only be assigned to support staff (members of ~customer-support)."
EMPTY_REPLY = "The reply is empty; write what the customer should read."
EMPTY_NOTE = "The note is empty."
NO_CUSTOMER_THREAD = "This ticket has no customer conversation yet; try again in a moment."


def note_copy(author_name: str, body: str) -> str:
    return f"📝 Internal note by **{author_name}**:\n\n{text.quote(text.block(body))}"


NOT_YOUR_BUTTON = "This button was meant for someone else."


def taken(ticket: Ticket) -> str:
    return f"You took {ref(ticket.id)}; it is {ticket.status.value.capitalize()} and assigned to you."


def status_now(ticket: Ticket) -> str:
    return f"{ref(ticket.id)} is now {ticket.status.value.capitalize()}."


def unknown_user(raw: str) -> str:
    return f"No Mattermost user named `{text.inline(raw, max_len=40)}`."


def assigned(ticket: Ticket, name: str) -> str:
    return f"{ref(ticket.id)} is assigned to {name} and {ticket.status.value.capitalize()}."


def priority_now(ticket: Ticket) -> str:
    return f"{ref(ticket.id)} is now {ticket.priority.value.capitalize()} priority."


def reply_sent(ticket: Ticket) -> str:
    return f"Your reply on {ref(ticket.id)} was sent to the customer."


def note_added(ticket: Ticket) -> str:
    return f"Internal note added to {ref(ticket.id)}."


def hold_now(ticket: Ticket) -> str:
    if ticket.hold:
        return f"{ref(ticket.id)} is on hold: it will not close automatically."
    return f"{ref(ticket.id)} is no longer on hold: once Solved it closes automatically."


def _row(ticket: Ticket, now: datetime, *, staff: bool, waiting: str = "") -> str:
    status = ticket.status.value.capitalize() + (f" · {waiting}" if waiting else "")  # issue 6
    cells = [f"{ref(ticket.id)}", text.inline(ticket.form.subject, max_len=60),
             status, ticket.priority.value.capitalize()]
    if staff:
        cells += [PLAN_LABEL[ticket.plan].replace(" Support", ""),
                  "assigned" if ticket.assignee_id else "**unassigned**"]
    cells.append(text.format_age(ticket.created_at, now))
    return "| " + " | ".join(cells) + " |"


def customer_list(found: Sequence[Ticket], *, now: datetime) -> str:
    if not found:
        return "You have no open tickets. Open one with `/ticket new` or `/ticket sales`."
    head = "| Ticket | Subject | Status | Priority | Age |\n|---|---|---|---|---|"
    return "**Your open tickets**\n\n" + head + "\n" + "\n".join(
        _row(t, now, staff=False) for t in found)


def queue(found: Sequence[Ticket], *, now: datetime, filters: str,
          waiting: dict[int, str] | None = None) -> str:
    """`waiting`: ticket id -> "waiting on SET (stage)" for escalated tickets (issue 6)."""
    waiting = waiting or {}
    title = f"**Queue** ({text.inline(filters, max_len=80)})" if filters else "**Queue** (open tickets)"
    if not found:
        return f"{title}\n\nNo tickets match."
    head = ("| Ticket | Subject | Status | Priority | Plan | Assignee | Age |\n"
            "|---|---|---|---|---|---|---|")
    return f"{title}\n\n{head}\n" + "\n".join(
        _row(t, now, staff=True, waiting=waiting.get(t.id or 0, "")) for t in found)


_PUBLIC_EVENTS = {"opened", "status_changed", "public_reply", "customer_message", "reopened",
                  "priority_changed", "csat_rated"}


def _event_line(e: TicketEvent, names: dict[str, str]) -> str:
    who = names.get(e.actor_id or "", "the desk") if e.actor_id else "the desk"
    when = e.at.strftime("%Y-%m-%d %H:%M UTC")
    what = {
        "opened": "opened the ticket",
        "assigned": f"assigned it to {names.get(e.to_value or '', 'nobody')}",
        "status_changed": f"changed status {e.from_value} → {e.to_value}",
        "priority_changed": f"changed priority {e.from_value} → {e.to_value}",
        "public_reply": "replied to the customer",
        "customer_message": "wrote",
        "internal_note": "added an internal note",
        "hold_changed": f"set do-not-close {e.to_value}",
        "reopened": "reopened it",
        "csat_rated": f"rated the support {e.to_value}",
        "announced": "announced it",
        "escalated": "escalated it to SET",  # escalation (issue 6)
        "escalation_stage": f"moved the SET escalation to {(e.to_value or '').replace('_', ' ')}",
    }.get(e.kind.value, e.kind.value.replace("_", " "))
    body = str(e.data.get("text", "")) if isinstance(e.data, dict) else ""
    line = f"- {when} — {who} {what}"
    if body and e.kind.value in ("public_reply", "customer_message", "internal_note", "csat_rated"):
        line += ": " + text.inline(body, max_len=200)
    return line


def ticket_detail(ticket: Ticket, events: Sequence[TicketEvent], *, names: dict[str, str],
                  internal: bool, now: datetime) -> str:
    """`/ticket show`: staff see everything; customers see the public history only."""
    f = ticket.form
    lines = [
        f"**{ref(ticket.id)} · {text.inline(f.subject, max_len=150)}**",
        f"Status: {ticket.status.value.capitalize()}" + (" (on hold)" if ticket.hold and internal else "")
        + f" · Priority: {ticket.priority.value.capitalize()} · Opened {text.format_age(ticket.created_at, now)} ago",
    ]
    if internal:
        lines.append(f"Plan: {PLAN_LABEL[ticket.plan]} · Assignee: "
                     f"{names.get(ticket.assignee_id or '', '—')}")
    lines += ["", text.quote(text.block(f.description[:1500])), "", "**History**"]
    shown = [e for e in events if internal or e.kind.value in _PUBLIC_EVENTS]
    if not internal:  # security (issue 9): a CSAT comment is for staff, not for CC'd colleagues
        shown = [TicketEvent(e.ticket_id, e.kind, e.at, e.actor_id, e.from_value, e.to_value)
                 if e.kind.value == "csat_rated" else e for e in shown]
    lines += [_event_line(e, names) for e in shown[-40:]]
    return "\n".join(lines)


def csat_question(ticket: Ticket) -> str:
    return (f"How would you rate the support you received on {ref(ticket.id)} "
            f"({text.inline(ticket.form.subject, max_len=80)})?")


def csat_thanks(label: str) -> str:
    return f"Thanks for your rating: {label}. You can add a comment in the form, or click again to change it."


def csat_staff_note(label: str, comment: str | None) -> str:
    line = f"⭐ Customer satisfaction: **{label}**"
    return line + (f"\n\n{text.quote(text.block(comment))}" if comment else "")


def auto_closed(ticket: Ticket) -> str:
    return f"{ref(ticket.id)} was closed automatically (Solved with no reply from the customer)."
