"""Interactive dialogs as Mattermost JSON, built from the form definitions in workflows/forms.py."""

from __future__ import annotations

from typing import Any

from workflows.forms import Field, FormSpec

# callback ids route a submission back to its handler
INTAKE_CALLBACK = "ticket.intake"


def element(f: Field, default: str = "") -> dict[str, Any]:
    """One DialogElement with every key Mattermost serialises (no omitempty server-side)."""
    elem: dict[str, Any] = {
        "display_name": f.label,
        "name": f.name,
        "type": f.kind,
        "subtype": "",
        "default": default,
        "placeholder": f.placeholder,
        "help_text": f.help_text,
        "optional": not f.required,
        "min_length": 0,
        "max_length": f.max_length,
        "data_source": "",
        "options": [{"text": o.label, "value": o.value} for o in f.options] or None,
    }
    return elem


def intake_dialog(
    spec: FormSpec, *, state: str, defaults: dict[str, str] | None = None, intro_prefix: str = ""
) -> dict[str, Any]:
    """The Technical or Sales Support dialog, field by field as in shared/support-forms.md."""
    defaults = defaults or {}
    return {
        "callback_id": INTAKE_CALLBACK,
        "title": spec.title,
        "introduction_text": intro_prefix + spec.introduction,
        "icon_url": "",
        "elements": [element(f, defaults.get(f.name, "")) for f in spec.fields],
        "submit_label": "Open ticket",
        "notify_on_cancel": False,
        "state": state,
    }


ASSIGN_CALLBACK = "ticket.assign"
REPLY_CALLBACK = "ticket.reply"
PRIORITY_CALLBACK = "ticket.priority"
REPLY_MAX = 8000


def _small(callback_id: str, title: str, state: str, elements: list[dict[str, Any]],
           submit: str, intro: str = "") -> dict[str, Any]:
    return {"callback_id": callback_id, "title": title, "introduction_text": intro, "icon_url": "",
            "elements": elements, "submit_label": submit, "notify_on_cancel": False, "state": state}


def _el(name: str, label: str, kind: str, **extra: Any) -> dict[str, Any]:
    base = {"display_name": label, "name": name, "type": kind, "subtype": "", "default": "",
            "placeholder": "", "help_text": "", "optional": False, "min_length": 0,
            "max_length": 0, "data_source": "", "options": None}
    return {**base, **extra}


def assign_dialog(state: str, ticket: Any) -> dict[str, Any]:
    return _small(ASSIGN_CALLBACK, f"Assign #{ticket.id}", state,
                  [_el("assignee", "Assignee", "select", data_source="users",
                       help_text="A member of the support team.")], "Assign")


def reply_dialog(state: str, ticket: Any) -> dict[str, Any]:
    return _small(REPLY_CALLBACK, f"Reply on #{ticket.id}", state,
                  [_el("message", "Message", "textarea", max_length=REPLY_MAX,
                       help_text="Sent to the customer's conversation thread (and CC'd people).")],
                  "Send", intro="This reply goes **to the customer**.")


def priority_dialog(state: str, ticket: Any, options: Any) -> dict[str, Any]:
    return _small(PRIORITY_CALLBACK, f"Priority of #{ticket.id}", state,
                  [_el("priority", "Priority", "select", default=ticket.priority.value,
                       options=[{"text": o.label, "value": o.value} for o in options])], "Save")


CSAT_CALLBACK = "csat.comment"


def csat_comment_dialog(state: str, ticket_id: int, rating_label: str) -> dict[str, Any]:
    return _small(CSAT_CALLBACK, "Your feedback", state,
                  [_el("comment", "Comment", "textarea", optional=True, max_length=2000,
                       help_text="Optional: tell us what went well or what we could do better.")],
                  "Send", intro=f"You rated ticket **#{ticket_id}**: {rating_label}. Thank you!")
