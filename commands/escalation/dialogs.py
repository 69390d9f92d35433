"""The escalation dialogs as Mattermost JSON: Escalate… (support) and one per SET stage."""

from __future__ import annotations

from typing import Any

from commands.dialogs import _el, _small
from workflows.escalation import (
    SEVERITY_FOR_PRIORITY,
    SEVERITY_LABEL,
    STAGES,
    Move,
    Stage,
    template,
)
from workflows.model import Ticket

ESCALATE_CALLBACK = "ticket.escalate"
STAGE_CALLBACK = "ticket.escalation_stage"
UPDATE_MAX = 3000  # a textarea default is capped at 3000 bytes (mattermost-protocol.md §2.1)

SHORT = {Move.CONFIRM: "Confirm", Move.PLAN: "Action plan", Move.TEST: "Fix tested",
         Move.RELEASE: "Fix released", Move.DECLINE: "Decline"}


def placeholder(stage: Stage) -> str:
    """Where the stage's fact goes in its template, replaced on submit (e.g. "[version]")."""
    spec = STAGES[stage].detail
    return f"[{spec.label.lower()}]" if spec else ""


def fill(message: str, stage: Stage, detail: str) -> str:
    """The edited update with the fact put where the template's placeholder still stands."""
    mark = placeholder(stage)
    return message.replace(mark, detail.strip()) if mark else message


def _update_elements(default: str) -> list[dict[str, Any]]:
    return [
        _el("customer_update", "Update to the customer", "textarea", default=default[:UPDATE_MAX],
            optional=True, max_length=UPDATE_MAX,
            help_text="Sent to the customer's ticket thread. Edit it freely; clear it only "
                      "if you skip the update below."),
        _el("skip_reason", "Skip the update: reason", "text", optional=True, max_length=300,
            help_text="Only to skip the customer update (then clear the message above): "
                      "say why."),
    ]


def escalate_dialog(state: str, ticket: Ticket) -> dict[str, Any]:
    severity = SEVERITY_FOR_PRIORITY[ticket.priority]
    elements = [
        _el("reason", "Reason", "textarea", max_length=3000,
            help_text="Why support can't resolve this, and what was tried."),
        _el("steps", "Steps to reproduce", "textarea", max_length=3000),
        _el("impact", "Impact", "textarea", max_length=1000,
            help_text="Who is affected, how badly, and any workaround."),
        _el("severity", "Severity", "select", default=severity.value,
            options=[{"text": label, "value": s.value} for s, label in SEVERITY_LABEL.items()]),
        _el("tracker_link", "Issue tracker link", "text", subtype="url", optional=True,
            max_length=500, help_text="Optional: an existing issue for this problem."),
        *_update_elements(template(Stage.ESCALATED, ticket.id)),
    ]
    return _small(ESCALATE_CALLBACK, f"Escalate #{ticket.id} to SET", state, elements, "Escalate",
                  intro=f"Escalate **#{ticket.id}** to the Sustained Engineering Team. "
                        "The customer is told unless you skip the update with a reason.")


def stage_dialog(state: str, ticket: Ticket, move: Move, to: Stage) -> dict[str, Any]:
    spec = STAGES[to]
    elements = []
    if spec.detail is not None:
        d = spec.detail
        elements.append(_el("detail", d.label, "textarea" if d.long else "text",
                            subtype="url" if d.url else "", max_length=3000 if d.long else 500,
                            help_text=d.help_text))
    mark = placeholder(to)
    default = template(to, ticket.id, mark)
    elements += _update_elements(default)
    intro = f"Mark **#{ticket.id}** as “{spec.label}”. The stage is done once the customer " \
            "update is sent or skipped with a reason."
    if spec.detail is not None and mark in default:
        intro += f" `{mark}` in the update is replaced by the {spec.detail.label.lower()}."
    return _small(STAGE_CALLBACK, f"{SHORT[move]} #{ticket.id}", state, elements, "Save",
                  intro=intro)
