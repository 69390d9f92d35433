"""Escalation triggers: the Escalate… card button, SET's stage buttons, their dialogs, and
`/ticket escalate <id>` and `/ticket escalations`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from commands import tickets
from commands.actions import ACTIONS
from commands import replies as desk_replies
from commands.deps import Deps
from commands.errors import UserError
from commands.escalation import dialogs, replies, service
from commands.models import (
    ActionClick,
    ActionResult,
    DialogResult,
    DialogSubmission,
    Reply,
    SlashCommand,
)
from commands.ports import GatewayError
from commands.router import DIALOGS, TICKET
from commands.signing import BadSignature
from workflows import escalation as policy
from workflows.escalation import (
    AmbiguousCustomerUpdate,
    BadLink,
    CustomerUpdate,
    EscalationError,
    EscalationForm,
    MissingCustomerUpdate,
    MissingDetail,
    Move,
    Severity,
)
from workflows.permissions import Permission, allowed

log = logging.getLogger(__name__)

DIALOG_TTL = timedelta(hours=12)


def _text(submission: dict[str, Any], name: str) -> str:
    """Submitted text; missing keys and nulls are empty (mattermost-protocol.md §2.3)."""
    value = submission.get(name)
    return "" if value is None else str(value).strip()


def _update(submission: dict[str, Any]) -> CustomerUpdate:
    return CustomerUpdate(message=_text(submission, "customer_update"),
                          skip_reason=_text(submission, "skip_reason"))


def _field_for(exc: EscalationError, link_field: str) -> str | None:
    """The dialog element an escalation refusal belongs to (None: a general error)."""
    if isinstance(exc, AmbiguousCustomerUpdate | MissingCustomerUpdate):
        return "customer_update"
    if isinstance(exc, BadLink):
        return link_field
    if isinstance(exc, MissingDetail):
        return "detail"
    return None


def _refusal(exc: Exception, link_field: str) -> DialogResult:
    if isinstance(exc, EscalationError) and (name := _field_for(exc, link_field)):
        return DialogResult.field_errors({name: str(exc)})
    if isinstance(exc, UserError) and str(exc) == replies.NO_CUSTOMER_THREAD:
        return DialogResult.field_errors({"customer_update": str(exc)})
    return DialogResult.refused(str(exc))


def _verify(sub: DialogSubmission, kind: str, deps: Deps) -> dict[str, Any] | None:
    try:
        payload = deps.signer.verify(f"dialog:{kind}", sub.state, now=deps.clock())
    except BadSignature as exc:
        log.warning("refused %s dialog from %s: %s", kind, sub.user_id, exc)
        return None
    if payload.get("u") != sub.user_id:
        log.warning("refused %s dialog: issued to %s, sent by %s", kind, payload.get("u"),
                    sub.user_id)
        return None
    return payload


async def _open(deps: Deps, trigger_id: str, dialog: dict[str, Any]) -> str:
    """Open a dialog; '' on success, else the sentence to show."""
    try:
        await deps.gateway.open_dialog(trigger_id, deps.desk.dialog_url, dialog)
    except GatewayError as exc:
        log.warning("opening dialog %s failed: %s", dialog.get("callback_id"), exc)
        return desk_replies.DIALOG_FAILED
    return ""


# --- support: Escalate… -------------------------------------------------------------------------

async def open_escalate_dialog(deps: Deps, ticket_id: int, user_id: str, trigger_id: str) -> str:
    """Staff only, once at a time: '' when the dialog opened, else why not."""
    try:
        ticket = await service.check_can_escalate(deps, ticket_id, user_id)
    except UserError as exc:
        return str(exc)
    state = deps.signer.sign("dialog:escalate", {"u": user_id, "t": ticket_id},
                             now=deps.clock(), ttl=DIALOG_TTL)
    return await _open(deps, trigger_id, dialogs.escalate_dialog(state, ticket))


@ACTIONS.action("escalate")
async def escalate_button(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    refused = await open_escalate_dialog(deps, int(payload["t"]), click.user_id, click.trigger_id)
    return ActionResult(ephemeral_text=refused)


@TICKET.subcommand("escalate", usage="escalate <id>",
                   summary="escalate a ticket to the Sustained Engineering Team", staff_only=True)
async def escalate_command(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    if not args:
        return Reply.ephemeral("Usage: `/ticket escalate <id>`")
    try:
        ticket_id = tickets.parse_id(args[0])
    except UserError as exc:
        return Reply.ephemeral(str(exc))
    refused = await open_escalate_dialog(deps, ticket_id, cmd.user_id, cmd.trigger_id)
    return Reply.ephemeral(refused) if refused else Reply.empty()


@DIALOGS.callback(dialogs.ESCALATE_CALLBACK)
async def submit_escalate(sub: DialogSubmission, deps: Deps) -> DialogResult:
    if sub.cancelled:
        return DialogResult.ok()
    payload = _verify(sub, "escalate", deps)
    if payload is None:
        return DialogResult.refused(desk_replies.STATE_REFUSED)
    s = sub.submission
    errors = {name: "This field is required." for name in ("reason", "steps", "impact")
              if not _text(s, name)}
    severity = _text(s, "severity")
    if severity not in {v.value for v in Severity}:
        errors["severity"] = "Pick one of the severities."
    if errors:
        return DialogResult.field_errors(errors)
    form = EscalationForm(_text(s, "reason"), _text(s, "steps"), _text(s, "impact"),
                          Severity(severity), _text(s, "tracker_link") or None)
    try:
        await service.start(deps, int(payload["t"]), sub.user_id, form, _update(s))
    except (EscalationError, UserError) as exc:
        return _refusal(exc, "tracker_link")
    return DialogResult.ok()


# --- SET: the stage buttons ---------------------------------------------------------------------

def _stage_button(step: Move):  # type: ignore[no-untyped-def]
    async def handler(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
        ticket_id, escalation_id = int(payload["t"]), int(payload.get("e", 0))
        try:
            ticket = (await tickets.load(deps, ticket_id, click.user_id,
                                         Permission.SET_STAGE)).ticket
        except UserError as exc:
            return ActionResult(ephemeral_text=str(exc))
        current = await service.open_for(deps, ticket_id)
        if current is None or current.id != escalation_id:
            return ActionResult(ephemeral_text=replies.STALE_CARD)
        try:
            to = policy.target(current.stage, step)
        except EscalationError as exc:
            return ActionResult(ephemeral_text=str(exc))
        state = deps.signer.sign("dialog:escstage", {"u": click.user_id, "t": ticket_id,
                                                     "e": escalation_id, "m": step.value},
                                 now=deps.clock(), ttl=DIALOG_TTL)
        refused = await _open(deps, click.trigger_id,
                              dialogs.stage_dialog(state, ticket, step, to))
        return ActionResult(ephemeral_text=refused)

    return handler


for _step in Move:
    ACTIONS.action(f"esc{_step.value}")(_stage_button(_step))


@DIALOGS.callback(dialogs.STAGE_CALLBACK)
async def submit_stage(sub: DialogSubmission, deps: Deps) -> DialogResult:
    if sub.cancelled:
        return DialogResult.ok()
    payload = _verify(sub, "escstage", deps)
    if payload is None:
        return DialogResult.refused(desk_replies.STATE_REFUSED)
    step = Move(str(payload["m"]))
    detail = _text(sub.submission, "detail")
    update = _update(sub.submission)
    try:
        current = await service.open_for(deps, int(payload["t"]))
        if current is not None:
            to = policy.target(current.stage, step)
            update = CustomerUpdate(dialogs.fill(update.message, to, detail), update.skip_reason)
        await service.move(deps, int(payload["t"]), int(payload["e"]), sub.user_id, step,
                           detail, update)
    except (EscalationError, UserError) as exc:
        return _refusal(exc, "detail")
    return DialogResult.ok()


# --- /ticket escalations ------------------------------------------------------------------------

@TICKET.subcommand("escalations", usage="escalations",
                   summary="open escalations to SET, by stage and age", staff_only=True)
async def list_escalations(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    roles = await deps.directory.roles(cmd.user_id, None)
    if not (allowed(roles, Permission.ESCALATE) or allowed(roles, Permission.SET_STAGE)):
        return Reply.ephemeral(replies.LIST_REFUSED)
    async with deps.uow() as uow:
        open_now = await uow.escalations.open_all()
        found = {e.ticket_id: await uow.tickets.get(e.ticket_id) for e in open_now}
    shown = {tid: t for tid, t in found.items() if t is not None}
    return Reply.ephemeral(replies.escalation_list(open_now, shown, now=deps.clock()))

