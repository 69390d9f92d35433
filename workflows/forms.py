"""The two intake forms as data (fields, options, limits) and their pure validation.

Source of truth: shared/support-forms.md. Mattermost caps element display names at 24 bytes and
help text at 150 (mattermost-protocol.md §2.1), which is why the mobile field is "Mobile app version"
and the priority definitions live in the dialog introduction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.model import Form, Priority

SUBJECT_MAX = 150
DESCRIPTION_MAX = 8000
CC_MAX = 20


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Field:
    """One dialog element; `kind` is Mattermost's element type."""

    name: str
    label: str
    kind: str  # "text" | "textarea" | "select"
    required: bool
    help_text: str = ""
    placeholder: str = ""
    max_length: int = 0
    options: tuple[Option, ...] = ()


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower().replace("&", "and")).strip("-")


def _options(*labels: str) -> tuple[Option, ...]:
    return tuple(Option(label, _slug(label)) for label in labels)


PRIORITY_OPTIONS = tuple(
    Option(label, p.value)
    for label, p in (
        ("Urgent", Priority.URGENT),
        ("High", Priority.HIGH),
        ("Normal", Priority.NORMAL),
        ("Low", Priority.LOW),
    )
)

TECHNICAL_CATEGORIES = _options(
    "General inquiry", "AD/LDAP", "Authentication & Provisioning", "Compliance & Auditing",
    "Connectivity", "Customization & Branding", "Data Export and Import", "Database", "Desktop",
    "Developer Toolkit", "DevOps Command Center", "General", "Installation", "Integrations",
    "Invitation & Login", "Messaging", "Mobile", "Notifications & Status", "Onboarding",
    "Roles & Permissions", "Search", "Server Issues", "System Console", "Upgrading",
    "User Interface", "User, Team & Channel Management", "User issue",
)  # fmt: skip

SALES_CATEGORIES = _options(
    "Credit Card Issues", "General", "Licensing", "Pricing", "Product", "Renewals"
)

ENVIRONMENTS = (
    Option("Production", "production"),
    Option("Staging / Test", "staging"),
    Option("Development", "development"),
)
MOBILE_DEVICES = (Option("iOS", "ios"), Option("Android", "android"))

PRIORITY_INTRO = (
    "**Priority levels**\n"
    "- **Urgent (L1):** production system down or business operations prevented; many users "
    "blocked; no workaround; data loss or corruption; impact escalating quickly.\n"
    "- **High (L2):** production severely impacted: significant degradation, an important "
    "function unavailable, a small number of users blocked, impact escalating.\n"
    "- **Normal (L3):** partial or non-critical loss of function in production; few users; "
    "not escalating.\n"
    "- **Low (L4):** non-production issue, question, comment, feature request, documentation "
    "issue.\n\n"
    '"Production" means an instance actively used by your business users, not test or staging.'
)
ATTACHMENTS_NOTE = (
    "Screenshots or logs? After you submit, post them in the ticket's conversation with the bot."
)

CC_FIELD = Field(
    "cc", "CC", "text", required=False, max_length=1000,
    help_text="People to keep informed: @usernames or e-mail addresses of Mattermost users, "
    "separated by commas.",
    placeholder="@jane, ops@example.com",
)  # fmt: skip
SUBJECT_FIELD = Field(
    "subject", "Subject", "text", required=True, max_length=SUBJECT_MAX,
    help_text="A brief description of the issue.",
)  # fmt: skip
DESCRIPTION_FIELD = Field(
    "description", "Description", "textarea", required=True, max_length=DESCRIPTION_MAX,
    help_text="As much detail as possible to recreate the issue: configuration, logs, users "
    "affected, environment, steps to reproduce.",
)  # fmt: skip

TECHNICAL_FIELDS: tuple[Field, ...] = (
    CC_FIELD,
    SUBJECT_FIELD,
    Field("priority", "Priority", "select", required=True, options=PRIORITY_OPTIONS,
          help_text="Urgent: production down. High: production severely impacted. "
          "Normal: partial loss of function. Low: questions and non-production issues."),
    Field("category", "Category", "select", required=True, options=TECHNICAL_CATEGORIES),
    DESCRIPTION_FIELD,
    Field("environment", "Environment", "select", required=True, options=ENVIRONMENTS),
    Field("mattermost_version", "Mattermost Version", "text", required=True, max_length=20,
          help_text="Server version, e.g. 10.11.2.", placeholder="10.11.2"),
    Field("mobile_version", "Mobile app version", "text", required=False, max_length=20,
          help_text="Only when the issue is on a mobile device, e.g. 2.21.0."),
    Field("mobile_device", "Mobile device", "select", required=False, options=MOBILE_DEVICES,
          help_text="Only when the issue is on a mobile device."),
)  # fmt: skip

SALES_FIELDS: tuple[Field, ...] = (
    CC_FIELD,
    SUBJECT_FIELD,
    Field("category", "Category", "select", required=True, options=SALES_CATEGORIES),
    DESCRIPTION_FIELD,
)


@dataclass(frozen=True, slots=True)
class FormSpec:
    form: Form
    title: str  # ≤ 24 bytes
    introduction: str
    fields: tuple[Field, ...]


FORMS: Mapping[Form, FormSpec] = {
    Form.TECHNICAL: FormSpec(
        Form.TECHNICAL, "Technical Support",
        "Tell us what is wrong and we'll get back to you.\n\n" + PRIORITY_INTRO
        + "\n\n" + ATTACHMENTS_NOTE,
        TECHNICAL_FIELDS,
    ),
    Form.SALES: FormSpec(
        Form.SALES, "Sales Support",
        "Questions about licences, pricing, renewals or payment. Technical problems go "
        "through `/ticket new`.\n\n" + ATTACHMENTS_NOTE,
        SALES_FIELDS,
    ),
}  # fmt: skip

VERSION_RE = re.compile(r"^\d{1,3}\.\d{1,3}(\.\d{1,3})?$")
CC_SPLIT_RE = re.compile(r"[,;\s]+")


def label_of(fields: tuple[Field, ...], name: str, value: str | None) -> str | None:
    """The human label of a select value (for cards), or the value itself."""
    for f in fields:
        if f.name == name:
            return next((o.label for o in f.options if o.value == value), value)
    return value


def _text(raw: Any) -> str:
    """Clients send strings, numbers, null or nothing: normalise to a stripped string."""
    if raw is None or isinstance(raw, bool):
        return ""
    return str(raw).strip()


@dataclass(frozen=True, slots=True)
class CheckedForm:
    """A submission that passed the pure checks; CC tokens still need resolving to users."""

    values: dict[str, str]
    cc_tokens: tuple[str, ...]


def validate(spec: FormSpec, submission: Mapping[str, Any]) -> CheckedForm | dict[str, str]:
    """Check a dialog submission field by field; return the values or {field: error}."""
    values = {f.name: _text(submission.get(f.name)) for f in spec.fields}
    errors: dict[str, str] = {}
    for f in spec.fields:
        if error := _check_field(f, values[f.name]):
            errors[f.name] = error
    if spec.form is Form.TECHNICAL:
        errors.update(_check_technical(values, errors))
    cc_tokens = split_cc(values.get("cc", ""))
    if len(cc_tokens) > CC_MAX:
        errors.setdefault("cc", f"At most {CC_MAX} people can be CC'd.")
    return errors or CheckedForm(values, cc_tokens)


def _check_field(f: Field, value: str) -> str | None:
    if not value:
        return "This field is required." if f.required else None
    if f.max_length and len(value) > f.max_length:
        return f"Use at most {f.max_length} characters (you have {len(value)})."
    if f.options and value not in {o.value for o in f.options}:
        return "Pick one of the options."
    return None


def _check_technical(values: dict[str, str], errors: dict[str, str]) -> dict[str, str]:
    """Version format; mobile fields are required together when the issue is on mobile."""
    out: dict[str, str] = {}
    version = values["mattermost_version"]
    if version and "mattermost_version" not in errors and not VERSION_RE.match(version):
        out["mattermost_version"] = "Use the form X.Y or X.Y.Z, e.g. 10.11.2."
    mobile = values["category"] == "mobile" or values["mobile_version"] or values["mobile_device"]
    if mobile:
        for name in ("mobile_version", "mobile_device"):
            if not values[name] and name not in errors:
                out[name] = "Required for issues on a mobile device."
    if values["mobile_version"] and "mobile_version" not in errors and not VERSION_RE.match(
        values["mobile_version"]
    ):
        out["mobile_version"] = "Use the form X.Y or X.Y.Z, e.g. 2.21.0."
    return out


def split_cc(raw: str) -> tuple[str, ...]:
    """CC entries are separated by commas, semicolons or spaces; duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for token in CC_SPLIT_RE.split(raw):
        token = token.strip()
        if token:
            seen.setdefault(token.lower(), None)
    return tuple(seen)


# Mattermost usernames: 3–22 of a-z, 0-9, ".", "-", "_" (server/public/model/user.go)
USERNAME_RE = re.compile(r"^[a-z0-9._-]{1,64}$")
