"""Escalation to the Sustained Engineering Team (SET). Pure: no I/O, no clock, no SQLAlchemy.

The stages are data (`STAGES`), SET's moves one table (`TRANSITIONS`) and one function
(`advance`). Every stage promises the customer an update (support-forms.md, "Escalation to the
Sustained Engineering Team"): a stage is only done once that update was sent, or skipped with a
reason (`CustomerUpdate.check`). `escalation.mmd` beside this file draws the table.

The final stages' values ("released", "declined") are what workflows/sla.py's ESCALATION_ENDS
reads to stop treating the ticket as escalated; do not rename them.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from workflows.model import EventKind, Priority, Status, Ticket, TicketEvent


class Stage(StrEnum):
    ESCALATED = "escalated"
    CONFIRMED = "confirmed"  # a product issue; a PR / issue link exists
    ACTION_PLAN = "action_plan"
    FIX_TESTED = "fix_tested"
    RELEASED = "released"  # final: the fix shipped in a version
    DECLINED = "declined"  # final: not a product issue, back to support


class Move(StrEnum):
    """What SET does to an open escalation (one button each on the SET card)."""

    CONFIRM = "confirm"
    PLAN = "plan"
    TEST = "test"
    RELEASE = "release"
    DECLINE = "decline"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


SEVERITY_LABEL: Final[Mapping[Severity, str]] = MappingProxyType({
    Severity.CRITICAL: "Critical — production down or data at risk",
    Severity.MAJOR: "Major — important function broken",
    Severity.MINOR: "Minor — workaround exists",
})

# The default severity offered in the dialog, from the ticket's priority.
SEVERITY_FOR_PRIORITY: Final[Mapping[Priority, Severity]] = MappingProxyType({
    Priority.URGENT: Severity.CRITICAL,
    Priority.HIGH: Severity.MAJOR,
    Priority.NORMAL: Severity.MINOR,
    Priority.LOW: Severity.MINOR,
})

# A link we re-post as a bare URL (Mattermost autolinks it): no spaces or Markdown punctuation.
_URL: Final = re.compile(r"^https?://[^\s<>()\[\]`|*\\]+$", re.IGNORECASE)


def is_link(value: str) -> bool:
    return bool(_URL.match(value))


FINAL: Final = frozenset({Stage.RELEASED, Stage.DECLINED})
OPEN_STAGES: Final = tuple(s for s in Stage if s not in FINAL)

# The pipeline; DECLINE is allowed from every open stage (SET may find a config cause late).
TRANSITIONS: Final[Mapping[tuple[Stage, Move], Stage]] = MappingProxyType({
    (Stage.ESCALATED, Move.CONFIRM): Stage.CONFIRMED,
    (Stage.CONFIRMED, Move.PLAN): Stage.ACTION_PLAN,
    (Stage.ACTION_PLAN, Move.TEST): Stage.FIX_TESTED,
    (Stage.FIX_TESTED, Move.RELEASE): Stage.RELEASED,
    **{(stage, Move.DECLINE): Stage.DECLINED for stage in OPEN_STAGES},
})


@dataclass(frozen=True, slots=True)
class Detail:
    """The one fact a move asks for (None: the move needs none)."""

    name: str
    label: str
    help_text: str
    long: bool = False  # textarea instead of a text line
    url: bool = False  # must look like an http(s) link


@dataclass(frozen=True, slots=True)
class StageSpec:
    """How a stage reads on the cards, which fact it needs, and what the customer is told."""

    label: str
    detail: Detail | None
    template: str  # {ticket} is "#1042"; {detail} is the move's fact


_LINK = Detail("link", "PR / issue link", "The pull request or issue tracking the fix.", url=True)

STAGES: Final[Mapping[Stage, StageSpec]] = MappingProxyType({
    Stage.ESCALATED: StageSpec(
        "Escalated to SET", None,
        "We have escalated ticket {ticket} to our Sustained Engineering Team, who will "
        "investigate it with us. We will keep you updated at each step.",
    ),
    Stage.CONFIRMED: StageSpec(
        "Confirmed product issue", _LINK,
        "Our engineers have confirmed that the behaviour reported in {ticket} is a product "
        "issue, and work on a fix has started. We will share the action plan next.",
    ),
    Stage.ACTION_PLAN: StageSpec(
        "Action plan", Detail("plan", "Action plan", "What SET will do, and roughly when.",
                              long=True),
        "Our engineers have an action plan for {ticket}:\n\n{detail}\n\n"
        "We will let you know when the fix has been tested.",
    ),
    Stage.FIX_TESTED: StageSpec(
        "Fix tested", None,
        "The fix for {ticket} has been implemented and tested internally. We will tell you "
        "which release includes it.",
    ),
    Stage.RELEASED: StageSpec(
        "Fix released",
        Detail("version", "Version", "The release that ships the fix, e.g. 10.12.1."),
        "The fix for {ticket} is released in Mattermost {detail}. Please upgrade and let us know "
        "whether it resolves the issue for you.",
    ),
    Stage.DECLINED: StageSpec(
        "Not a product issue",
        Detail("reason", "Reason", "Why this is not a product issue; support sees it.",
               long=True),
        "Our engineering team reviewed {ticket} and found that it is not caused by a defect in "
        "the product:\n\n{detail}\n\nYour support engineer will continue working with you on it.",
    ),
})

MOVE_LABEL: Final[Mapping[Move, str]] = MappingProxyType({
    Move.CONFIRM: "Confirm product issue",
    Move.PLAN: "Action plan…",
    Move.TEST: "Fix tested",
    Move.RELEASE: "Fix released…",
    Move.DECLINE: "Not a product issue…",
})


class EscalationError(Exception):
    """A refused escalation step (tier-2 error): `str(exc)` is the one sentence to show."""


class InvalidMove(EscalationError):
    def __init__(self, stage: Stage, move: Move) -> None:
        super().__init__(
            f"The escalation is at “{STAGES[stage].label}”, so “{MOVE_LABEL[move].rstrip('…')}” "
            "can't be done now.")
        self.stage, self.move = stage, move


class MissingCustomerUpdate(EscalationError):
    def __init__(self) -> None:
        super().__init__("Send the customer an update, or skip it and say why.")


class AmbiguousCustomerUpdate(EscalationError):
    def __init__(self) -> None:
        super().__init__("Either send the update or give a reason to skip it, not both: "
                         "clear one of the two fields.")


class MissingDetail(EscalationError):
    def __init__(self, detail: Detail) -> None:
        super().__init__(f"{detail.label} is required for this stage.")
        self.detail = detail


class BadLink(EscalationError):
    def __init__(self, detail: Detail) -> None:
        super().__init__(f"{detail.label} must be an http:// or https:// link.")
        self.detail = detail


class CannotEscalate(EscalationError):
    pass


class AlreadyEscalated(CannotEscalate):
    """Storage refused a second open escalation of the same ticket (a race lost)."""


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """A stage's customer update: `message` is sent, or it is skipped for `skip_reason`."""

    message: str = ""
    skip_reason: str = ""

    @property
    def sent(self) -> bool:
        return bool(self.message.strip())

    def check(self) -> None:
        """The rule: a stage is done only with an update sent or a reason to skip it, not both."""
        message, reason = self.message.strip(), self.skip_reason.strip()
        if message and reason:
            raise AmbiguousCustomerUpdate
        if not message and not reason:
            raise MissingCustomerUpdate

    def as_data(self) -> dict[str, str]:
        if self.sent:
            return {"update": "sent"}
        return {"update": "skipped", "skip_reason": self.skip_reason.strip()}


@dataclass(frozen=True, slots=True)
class EscalationForm:
    """What support typed into the Escalate… dialog."""

    reason: str
    steps: str
    impact: str
    severity: Severity
    tracker_link: str | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    """One escalation of one ticket; at most one is open (closed_at None) per ticket."""

    ticket_id: int
    stage: Stage
    form: EscalationForm
    opened_by: str
    opened_at: datetime
    updated_at: datetime
    card_post_id: str | None = None  # the SET card in ~Sustained Engineering
    closed_at: datetime | None = None
    details: dict[str, str] = field(default_factory=dict)  # stage value -> its fact
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def template(stage: Stage, ticket_id: int | None, detail: str = "") -> str:
    """The customer update offered (editable) when the escalation reaches `stage`."""
    return STAGES[stage].template.format(ticket=f"#{ticket_id}", detail=detail.strip())


def next_moves(stage: Stage) -> list[Move]:
    """SET's buttons for an escalation at `stage`, pipeline first, decline last."""
    return [move for move in Move if (stage, move) in TRANSITIONS]


def target(stage: Stage, move: Move) -> Stage:
    if (to := TRANSITIONS.get((stage, move))) is None:
        raise InvalidMove(stage, move)
    return to


def check_detail(to: Stage, detail: str) -> str:
    """The move's fact, stripped; required where the stage asks for one."""
    spec = STAGES[to].detail
    value = detail.strip()
    if spec is None:
        return ""
    if not value:
        raise MissingDetail(spec)
    if spec.url and not is_link(value):
        raise BadLink(spec)
    return value


def can_escalate(ticket: Ticket, open_escalation: Escalation | None) -> bool:
    """Escalate only a live ticket, and only once at a time."""
    return open_escalation is None and ticket.status not in (Status.SOLVED, Status.CLOSED)


def open_escalation(
    ticket: Ticket, form: EscalationForm, update: CustomerUpdate, *,
    open_now: Escalation | None, actor_id: str, at: datetime,
) -> tuple[Escalation, TicketEvent]:
    """Start the SET track (stage "escalated") and the ESCALATED event that logs it."""
    if ticket.id is None:
        raise ValueError("store the ticket before escalating it")
    if open_now is not None:
        raise CannotEscalate(f"#{ticket.id} is already escalated "
                             f"({STAGES[open_now.stage].label}).")
    if not can_escalate(ticket, None):
        raise CannotEscalate(f"#{ticket.id} is {ticket.status.value.capitalize()}; "
                             "reopen it before escalating.")
    if form.tracker_link and not is_link(form.tracker_link):
        raise BadLink(_LINK)
    update.check()
    escalation = Escalation(ticket.id, Stage.ESCALATED, form, opened_by=actor_id,
                            opened_at=at, updated_at=at)
    event = TicketEvent(ticket.id, EventKind.ESCALATED, at, actor_id=actor_id,
                        to_value=Stage.ESCALATED.value,
                        data={"severity": form.severity.value, **update.as_data()})
    return escalation, event


def advance(
    escalation: Escalation, move: Move, *, detail: str, update: CustomerUpdate,
    actor_id: str, at: datetime,
) -> tuple[Escalation, TicketEvent]:
    """Move along TRANSITIONS; refused off the table, without the fact, or without the update."""
    if not escalation.is_open:
        raise EscalationError("This escalation is already closed.")
    to = target(escalation.stage, move)
    value = check_detail(to, detail)
    update.check()
    details = {**escalation.details, to.value: value} if value else dict(escalation.details)
    moved = replace(escalation, stage=to, updated_at=at, details=details,
                    closed_at=at if to in FINAL else None)
    data: dict[str, str] = {**update.as_data()}
    if value:
        data["detail"] = value
    event = TicketEvent(escalation.ticket_id, EventKind.ESCALATION_STAGE, at, actor_id=actor_id,
                        from_value=escalation.stage.value, to_value=to.value, data=data)
    return moved, event
