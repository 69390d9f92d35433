"""The card's buttons and the small dialogs some of them open (Assign…, Reply…, Priority…)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from commands import dialogs, intake, operations, replies, tickets
from commands.actions import ACTIONS
from commands.deps import Deps
from commands.errors import UserError
from commands.models import ActionClick, ActionResult, DialogResult, DialogSubmission
from commands.ports import GatewayError
from commands.router import DIALOGS
from commands.signing import BadSignature
from workflows.forms import PRIORITY_OPTIONS
from workflows.lifecycle import Action
from workflows.model import Form, Priority
from workflows.permissions import Permission

log = logging.getLogger(__name__)

DIALOG_TTL = timedelta(hours=12)


def _ticket_id(payload: dict[str, Any]) -> int:
    return int(payload["t"])


async def _guarded(run: Callable[[], Awaitable[str]]) -> ActionResult:
    try:
        return ActionResult(ephemeral_text=await run())
    except UserError as exc:
        return ActionResult(ephemeral_text=str(exc))


@ACTIONS.action("take")
async def take(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    async def run() -> str:
        ticket = await operations.assign(deps, _ticket_id(payload), click.user_id, click.user_id)
        return replies.taken(ticket)

    return await _guarded(run)


def _status_button(action: Action) -> Callable[[ActionClick, dict, Deps], Awaitable[ActionResult]]:
    async def handler(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
        async def run() -> str:
            ticket = await operations.set_status(deps, _ticket_id(payload), click.user_id, action)
            return replies.status_now(ticket)

        return await _guarded(run)

    return handler


ACTIONS.action("pending")(_status_button(Action.ASK_CUSTOMER))
ACTIONS.action("solved")(_status_button(Action.SOLVE))
ACTIONS.action("reopen")(_status_button(Action.REOPEN))


async def _open_small_dialog(
    click: ActionClick, payload: dict, deps: Deps, kind: str, permission: Permission,
    build: Callable[[str, Any], dict[str, Any]],
) -> ActionResult:
    try:
        acting = await tickets.load(deps, _ticket_id(payload), click.user_id, permission)
    except UserError as exc:
        return ActionResult(ephemeral_text=str(exc))
    state = deps.signer.sign(f"dialog:{kind}", {"u": click.user_id, "t": acting.ticket.id},
                             now=deps.clock(), ttl=DIALOG_TTL)
    try:
        await deps.gateway.open_dialog(click.trigger_id, deps.desk.dialog_url,
                                       build(state, acting.ticket))
    except GatewayError as exc:
        log.warning("opening the %s dialog failed: %s", kind, exc)
        return ActionResult(ephemeral_text=replies.DIALOG_FAILED)
    return ActionResult()


@ACTIONS.action("assign")
async def assign_button(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    return await _open_small_dialog(click, payload, deps, "assign", Permission.ASSIGN,
                                    dialogs.assign_dialog)


@ACTIONS.action("reply")
async def reply_button(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    return await _open_small_dialog(click, payload, deps, "reply", Permission.REPLY_PUBLIC,
                                    dialogs.reply_dialog)


@ACTIONS.action("priority")
async def priority_button(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    return await _open_small_dialog(click, payload, deps, "priority", Permission.CHANGE_PRIORITY,
                                    lambda state, t: dialogs.priority_dialog(state, t, PRIORITY_OPTIONS))


@ACTIONS.action("followup")
async def follow_up(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    """Only the customer the offer was made to can use it; it opens the intake form pre-linked."""
    if payload.get("u") != click.user_id:
        return ActionResult(ephemeral_text=replies.NOT_YOUR_BUTTON)
    reply = await intake.open_form(Form.TECHNICAL, None, deps, follow_up_of=_ticket_id(payload),
                                   trigger_id=click.trigger_id, user_id=click.user_id)
    return ActionResult(ephemeral_text=reply.text)


def _verify_dialog(sub: DialogSubmission, kind: str, deps: Deps) -> int | None:
    try:
        payload = deps.signer.verify(f"dialog:{kind}", sub.state, now=deps.clock())
    except BadSignature as exc:
        log.warning("refused %s dialog from %s: %s", kind, sub.user_id, exc)
        return None
    if payload.get("u") != sub.user_id:
        log.warning("refused %s dialog: issued to %s, sent by %s", kind, payload.get("u"), sub.user_id)
        return None
    return int(payload["t"])


async def _submit(sub: DialogSubmission, kind: str, deps: Deps,
                  run: Callable[[int], Awaitable[None]], field: str) -> DialogResult:
    if sub.cancelled:
        return DialogResult.ok()
    ticket_id = _verify_dialog(sub, kind, deps)
    if ticket_id is None:
        return DialogResult.refused(replies.STATE_REFUSED)
    try:
        await run(ticket_id)
    except UserError as exc:
        return DialogResult.field_errors({field: str(exc)})
    return DialogResult.ok()


@DIALOGS.callback(dialogs.ASSIGN_CALLBACK)
async def submit_assign(sub: DialogSubmission, deps: Deps) -> DialogResult:
    assignee = str(sub.submission.get("assignee") or "")

    async def run(ticket_id: int) -> None:
        if not assignee:
            raise UserError("Pick someone to assign the ticket to.")
        await operations.assign(deps, ticket_id, sub.user_id, assignee)

    return await _submit(sub, "assign", deps, run, "assignee")


@DIALOGS.callback(dialogs.REPLY_CALLBACK)
async def submit_reply(sub: DialogSubmission, deps: Deps) -> DialogResult:
    body = str(sub.submission.get("message") or "")

    async def run(ticket_id: int) -> None:
        if len(body) > dialogs.REPLY_MAX:
            raise UserError(f"Use at most {dialogs.REPLY_MAX} characters.")
        await operations.reply(deps, ticket_id, sub.user_id, body)

    return await _submit(sub, "reply", deps, run, "message")


@DIALOGS.callback(dialogs.PRIORITY_CALLBACK)
async def submit_priority(sub: DialogSubmission, deps: Deps) -> DialogResult:
    raw = str(sub.submission.get("priority") or "")

    async def run(ticket_id: int) -> None:
        if raw not in {p.value for p in Priority}:
            raise UserError("Pick one of the priorities.")
        await operations.set_priority(deps, ticket_id, sub.user_id, Priority(raw))

    return await _submit(sub, "priority", deps, run, "priority")
