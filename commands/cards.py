"""The ticket card: its text (replies.ticket_card) plus the staff buttons that fit its status.

Every button's context is signed for its action and ticket, and a click is honoured only on the
bot's own post (commands/actions.py), because Mattermost does not authenticate clicks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commands import replies
from commands.deps import Deps
from commands.ports import UnitOfWork
from workflows import text
from workflows.lifecycle import Action, allowed_actions
from workflows.model import Status, Ticket

BUTTON_TTL = timedelta(days=3650)  # cards live as long as their tickets; keys rotate instead

# (action id, label, shown when, style) — ids are alphanumeric: the click route only matches those
BUTTONS: tuple[tuple[str, str, str], ...] = (
    ("take", "Take it", "default"),
    ("assign", "Assign…", "default"),
    ("reply", "Reply to customer…", "primary"),
    ("pending", "Pending", "default"),
    ("solved", "Solved", "success"),
    ("reopen", "Reopen", "default"),
    ("priority", "Priority…", "default"),
    ("escalate", "Escalate…", "default"),  # escalation (issue 6)
)


def visible_buttons(ticket: Ticket, escalated: bool = False) -> list[str]:
    """Only the buttons that make sense now: no Solved on a Solved ticket, none on Closed."""
    if ticket.status is Status.CLOSED:
        return []
    allowed = allowed_actions(ticket)
    shown = {
        "take": Action.ASSIGN in allowed and ticket.assignee_id is None,
        "assign": Action.ASSIGN in allowed,
        "reply": True,
        "pending": Action.ASK_CUSTOMER in allowed,
        "solved": Action.SOLVE in allowed,
        "reopen": Action.REOPEN in allowed,
        "priority": True,
        # escalation (issue 6): once at a time, and not on a Solved ticket
        "escalate": not escalated and ticket.status is not Status.SOLVED,
    }
    return [name for name, _, _ in BUTTONS if shown[name]]


def button(deps: Deps, name: str, label: str, ticket_id: int, style: str = "default",
           **extra: Any) -> dict[str, Any]:
    sig = deps.signer.sign(f"action:{name}", {"t": ticket_id, **extra}, now=deps.clock(),
                           ttl=BUTTON_TTL)
    return {
        "id": name, "type": "button", "name": label, "style": style,
        "integration": {"url": deps.desk.action_url, "context": {"action": name, "sig": sig}},
    }


def render(deps: Deps, ticket: Ticket, names: dict[str, str],
           sla: str | None = None, escalation: Any = None) -> tuple[str, dict[str, Any]]:
    assert ticket.id is not None
    message, props = replies.ticket_card(
        ticket,
        requester_name=names.get(ticket.requester.user_id, ticket.requester.username),
        cc_names=[names[i] for i in ticket.form.cc_user_ids if i in names],
        assignee_name=names.get(ticket.assignee_id or "", ""),
        age=text.format_age(ticket.created_at, deps.clock()),
    )
    if sla:  # SLA (issue 4): the time left to the next deadline, after "Age"
        fields = props["attachments"][0]["fields"]
        at = next((i + 1 for i, f in enumerate(fields) if f["title"] == "Age"), len(fields))
        fields.insert(at, {"title": "SLA", "value": sla, "short": True})
    if escalation is not None:  # escalation (issue 6): "Waiting on SET (stage)" after the status
        from commands.escalation.cardfield import ticket_card_field

        props["attachments"][0]["fields"].insert(1, ticket_card_field(deps, escalation))
    labels = {name: (label, style) for name, label, style in BUTTONS}
    props["attachments"][0]["actions"] = [
        button(deps, name, labels[name][0], ticket.id, labels[name][1])
        for name in visible_buttons(ticket, escalated=escalation is not None)
    ]
    return message, props


async def names_for(deps: Deps, ticket: Ticket) -> dict[str, str]:
    """Display names (never mentions) of everyone the card shows."""
    ids = {ticket.requester.user_id, *ticket.form.cc_user_ids}
    if ticket.assignee_id:
        ids.add(ticket.assignee_id)
    users = await deps.gateway.get_users_by_ids(sorted(ids))
    return {u["id"]: replies.person(u) for u in users}


async def sla_line(deps: Deps, uow: UnitOfWork, ticket: Ticket) -> str | None:
    """SLA (issue 4): the card's SLA field, or None when no target applies."""
    from commands.sla.card import card_line  # local: the SLA package imports this module's users

    return await card_line(deps, uow, ticket)


async def open_escalation(uow: UnitOfWork, ticket: Ticket) -> Any:
    """Escalation (issue 6): the ticket's open escalation to SET, or None."""
    return None if ticket.id is None else await uow.escalations.open_for(ticket.id)
