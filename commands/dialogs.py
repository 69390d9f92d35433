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
