"""Every user-visible sentence and card the desk posts, in one file so tone is reviewed in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workflows import text
from workflows.forms import FORMS, label_of
from workflows.model import Form, Plan, Priority, Ticket

PRIORITY_COLOUR = {
    Priority.URGENT: "#d24b4e",
    Priority.HIGH: "#f5a623",
    Priority.NORMAL: "#3b7dd8",
    Priority.LOW: "#8a8f98",
}
PLAN_LABEL = {Plan.PREMIUM: "Premium Support", Plan.ENTERPRISE: "Enterprise Support", None: "No plan"}


def ref(ticket_id: int | None) -> str:
    return f"#{ticket_id}"


def usage(entries: Sequence[tuple[str, str]]) -> str:
    lines = ["**Support desk** — `/ticket <command>`", ""]
    lines += [f"- `/ticket {usage_}` — {summary}" for usage_, summary in entries]
    return "\n".join(lines)


def unknown_subcommand(name: str, entries: Sequence[tuple[str, str]]) -> str:
    return f"There is no `/ticket {text.inline(name, max_len=40)}` command.\n\n" + usage(entries)


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


def card_fields(ticket: Ticket, *, requester_name: str, cc_names: Sequence[str]) -> list[dict[str, Any]]:
    """The facts staff triage by, as short attachment fields."""
    f = ticket.form
    fields = [
        ("Requester", requester_name, True),
        ("Organisation", text.inline(ticket.requester.organisation or "—", max_len=80), True),
        ("Plan", PLAN_LABEL[ticket.plan], True),
        ("Priority", ticket.priority.value.capitalize(), True),
        ("Status", ticket.status.value.capitalize(), True),
        ("Category", _form_label(ticket, "category", f.category), True),
    ]
    if f.form is Form.TECHNICAL:
        fields += [
            ("Environment", _form_label(ticket, "environment", f.environment), True),
            ("Mattermost version", text.inline(f.mattermost_version or "—", max_len=20), True),
        ]
        if f.mobile_version or f.mobile_device:
            mobile = f"{_form_label(ticket, 'mobile_device', f.mobile_device)} {f.mobile_version or ''}"
            fields.append(("Mobile", text.inline(mobile.strip(), max_len=40), True))
    if cc_names:
        fields.append(("CC", ", ".join(cc_names), False))
    return [{"title": t, "value": v, "short": s} for t, v, s in fields]


def ticket_card(
    ticket: Ticket, *, requester_name: str, cc_names: Sequence[str]
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
        "fields": card_fields(ticket, requester_name=requester_name, cc_names=cc_names),
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
