"""Every user-visible sentence and card of the SET escalation feature (issue 6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from workflows import text
from workflows.escalation import (
    MOVE_LABEL,
    OPEN_STAGES,
    SEVERITY_LABEL,
    STAGES,
    Escalation,
    Move,
    Stage,
    is_link,
)
from workflows.model import Ticket

SEVERITY_COLOUR = {"critical": "#d24b4e", "major": "#f5a623", "minor": "#3b7dd8"}
FINAL_COLOUR = {Stage.RELEASED: "#3db887", Stage.DECLINED: "#8a8f98"}

ESCALATE_REFUSED_STAFF = "Only support staff can escalate tickets."
NOT_SET = "Only the Sustained Engineering Team can move an escalation's stage."
LIST_REFUSED = "Only support staff and the Sustained Engineering Team can list escalations."
STALE_CARD = "This escalation has moved on or closed since this card was drawn; nothing was done."
NO_CUSTOMER_THREAD = ("This ticket has no customer conversation yet, so the update can't be sent; "
                      "skip it with a reason or try again in a moment.")


def stage_label(stage: Stage) -> str:
    return STAGES[stage].label


def waiting_on_set(escalation: Escalation, *, capital: bool = True) -> str:
    """The ticket's state while escalated, as cards and lists show it: "Waiting on SET (stage)"."""
    stage = escalation.stage.value.replace("_", " ")
    return f"{'W' if capital else 'w'}aiting on SET ({stage})"


def link(url: str | None) -> str:
    """A stored link as a bare URL (checked by workflows.escalation.is_link), else escaped text."""
    if not url:
        return "—"
    return url if is_link(url) else text.inline(url, max_len=200)


def permalink(site_url: str, team_name: str, post_id: str | None) -> str:
    """`{site}/{team}/pl/{post_id}`: Mattermost's link to a post, valid for channel members."""
    if not site_url or not post_id:
        return ""
    return f"{site_url.rstrip('/')}/{team_name}/pl/{post_id}"


def ticket_card_field(escalation: Escalation, set_card_link: str) -> dict[str, Any]:
    value = waiting_on_set(escalation)
    if set_card_link:
        value += f" · [SET card]({set_card_link})"
    return {"title": "Escalation", "value": value, "short": False}


def _details(escalation: Escalation) -> list[tuple[str, str, bool]]:
    rows = []
    for stage in (Stage.CONFIRMED, Stage.ACTION_PLAN, Stage.RELEASED, Stage.DECLINED):
        value = escalation.details.get(stage.value)
        spec = STAGES[stage].detail
        if value and spec is not None:
            shown = link(value) if spec.url else text.inline(value, max_len=300)
            rows.append((spec.label, shown, not spec.long))
    return rows


def set_card(
    escalation: Escalation, ticket: Ticket, *, requester_name: str, opened_by_name: str,
    ticket_card_link: str, now: datetime,
) -> tuple[str, dict[str, Any]]:
    """The escalation's card in ~Sustained Engineering: the ticket's key facts and the stage."""
    f, e = ticket.form, escalation
    state = waiting_on_set(e) if e.is_open else f"Closed: {stage_label(e.stage)}"
    message = (f"🛠 **Escalation of #{ticket.id}** from {opened_by_name} — "
               f"{e.form.severity.value.capitalize()} severity · {state}")
    fields = [
        ("Stage", stage_label(e.stage), True),
        ("Severity", SEVERITY_LABEL[e.form.severity], True),
        ("Priority", ticket.priority.value.capitalize(), True),
        ("Plan", (ticket.plan.value.capitalize() if ticket.plan else "No plan"), True),
        ("Organisation", text.inline(ticket.requester.organisation or "—", max_len=80), True),
        ("Requester", requester_name, True),
        ("Mattermost version", text.inline(f.mattermost_version or "—", max_len=40), True),
        ("Environment", text.inline(f.environment or "—", max_len=40), True),
        ("Escalated", f"{text.format_age(e.opened_at, now)} ago by {opened_by_name}", True),
        ("Issue tracker", link(e.form.tracker_link), True),
        *_details(e),
        ("Impact", text.inline(e.form.impact, max_len=300), False),
    ]
    body = (f"**Reason**\n{text.block(e.form.reason)}\n\n"
            f"**Steps to reproduce**\n{text.block(e.form.steps)}")
    if ticket_card_link:
        body += f"\n\n[Open the ticket card]({ticket_card_link})"
    attachment = {
        "fallback": f"Escalation of #{ticket.id}",
        "color": FINAL_COLOUR.get(e.stage, SEVERITY_COLOUR[e.form.severity.value]),
        "title": f"#{ticket.id} · {text.inline(f.subject, max_len=150)}",
        "title_link": ticket_card_link or None,
        "text": body,
        "fields": [{"title": t, "value": v, "short": s} for t, v, s in fields],
        "footer": "Support Desk · Sustained Engineering escalation",
    }
    return message, {"attachments": [attachment], "supportdesk_ticket": ticket.id,
                     "supportdesk_escalation": e.id}


def staff_escalated(escalation: Escalation, actor_name: str, set_card_link: str,
                    update_note: str) -> str:
    line = (f"🛠 **{actor_name}** escalated this ticket to SET "
            f"({escalation.form.severity.value} severity):\n\n"
            f"{text.quote(text.block(escalation.form.reason))}")
    if set_card_link:
        line += f"\n\n[SET card]({set_card_link})"
    return line + "\n\n" + update_note


def staff_stage(escalation: Escalation, actor_name: str, detail: str, update_note: str) -> str:
    line = f"🛠 SET: **{stage_label(escalation.stage)}** — by {actor_name}"
    if detail:
        spec = STAGES[escalation.stage].detail
        shown = link(detail) if spec is not None and spec.url else text.quote(text.block(detail))
        line += f"\n\n{shown}"
    if escalation.stage is Stage.DECLINED:
        line += "\n\nNot a product issue: the ticket is back with support."
    elif escalation.stage is Stage.RELEASED:
        line += "\n\nThe escalation is complete."
    return line + "\n\n" + update_note


def update_note(sent: bool, skip_reason: str) -> str:
    if sent:
        return "_The customer was sent the update for this stage._"
    return f"_Customer update skipped: {text.inline(skip_reason, max_len=300)}_"


def escalated_ack(ticket_id: int) -> str:
    return f"#{ticket_id} is escalated to the Sustained Engineering Team."


def escalation_list(escalations: Sequence[Escalation], tickets: dict[int, Ticket], *,
                    now: datetime) -> str:
    """`/ticket escalations`: open escalations by stage (pipeline order), oldest first."""
    if not escalations:
        return "**Open escalations**\n\nNone: nothing is waiting on SET."
    order = {stage: i for i, stage in enumerate(OPEN_STAGES)}
    rows = sorted(escalations, key=lambda e: (order.get(e.stage, 99), e.opened_at))
    head = ("| Ticket | Subject | Stage | Severity | Escalated | In stage |\n"
            "|---|---|---|---|---|---|")
    lines = []
    for e in rows:
        t = tickets.get(e.ticket_id)
        subject = text.inline(t.form.subject, max_len=50) if t else "—"
        lines.append(f"| #{e.ticket_id} | {subject} | {stage_label(e.stage)} | "
                     f"{e.form.severity.value.capitalize()} | "
                     f"{text.format_age(e.opened_at, now)} ago | "
                     f"{text.format_age(e.updated_at, now)} |")
    return f"**Open escalations** ({len(rows)})\n\n{head}\n" + "\n".join(lines)


def move_label(move: Move) -> str:
    return MOVE_LABEL[move]
