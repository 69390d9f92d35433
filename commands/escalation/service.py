"""Escalation use cases: start one, move its stage, keep both cards and the customer in step.

Order matters for the promise in support-forms.md: a stage is validated first (pure), then its
customer update is sent (or its skip reason accepted), and only then is the stage stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from commands import cards, threads, tickets
from commands import replies as desk_replies
from commands.conversation import post_to_staff_thread
from commands.deps import Deps
from commands.errors import UserError
from commands.escalation import replies
from commands.ports import GatewayError, UnitOfWork
from workflows import escalation as policy
from workflows import lifecycle
from workflows.escalation import CustomerUpdate, Escalation, EscalationForm, Move, Stage
from workflows.lifecycle import Action, allowed_actions
from workflows.model import Status, Ticket, TicketEvent
from workflows.permissions import Permission

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EscalationOptions:
    """deps.escalation: what the feature needs beyond Desk (built in bot/app.py)."""

    site_url: str = ""  # the Mattermost site URL, for permalinks between the two cards


def _site_url(deps: Deps) -> str:
    return str(getattr(deps.escalation, "site_url", "") or "")


def permalink(deps: Deps, post_id: str | None) -> str:
    return replies.permalink(_site_url(deps), deps.desk.team_name, post_id)


async def _name(deps: Deps, user_id: str) -> str:
    try:
        return desk_replies.person(await deps.gateway.get_user(user_id))
    except GatewayError:
        return "someone"


async def _send_update(deps: Deps, ticket: Ticket, actor_id: str, update: CustomerUpdate) -> None:
    """Deliver the stage's update to the customer's thread(s), logged as a PUBLIC_REPLY."""
    if not update.sent:
        return
    if not ticket.customer_root_id:
        raise UserError(replies.NO_CUSTOMER_THREAD)
    await threads.deliver_reply(deps, ticket, actor_id, update.message.strip())


async def open_for(deps: Deps, ticket_id: int) -> Escalation | None:
    async with deps.uow() as uow:
        return await uow.escalations.open_for(ticket_id)


async def check_can_escalate(deps: Deps, ticket_id: int, actor_id: str) -> Ticket:
    """The ticket, if `actor_id` is staff and it can be escalated now; else a UserError."""
    ticket = (await tickets.load(deps, ticket_id, actor_id, Permission.ESCALATE)).ticket
    current = await open_for(deps, ticket_id)
    if current is not None:
        raise UserError(f"#{ticket_id} is already escalated: {replies.waiting_on_set(current)}.")
    if not policy.can_escalate(ticket, None):
        raise UserError(f"#{ticket_id} is {ticket.status.value.capitalize()}; "
                        "reopen it before escalating.")
    return ticket


async def start(deps: Deps, ticket_id: int, actor_id: str, form: EscalationForm,
                update: CustomerUpdate) -> Escalation:
    """Escalate to SET: validate, tell the customer, store, post the SET card, refresh the card."""
    ticket = (await tickets.load(deps, ticket_id, actor_id, Permission.ESCALATE)).ticket
    now = deps.clock()
    policy.open_escalation(ticket, form, update, open_now=await open_for(deps, ticket_id),
                           actor_id=actor_id, at=now)  # refuse before telling the customer
    await _send_update(deps, ticket, actor_id, update)
    async with deps.uow() as uow:
        current = await uow.tickets.get_for_update(ticket_id)
        assert current is not None
        escalation, event = policy.open_escalation(
            current, form, update, open_now=await uow.escalations.open_for(ticket_id),
            actor_id=actor_id, at=now)
        escalation = await uow.escalations.add(escalation)  # AlreadyEscalated if a race was lost
        current = await _log(deps, uow, current, event)
        await uow.commit()
    escalation = await _post_set_card(deps, escalation, current)
    await tickets.refresh_card(deps, current)
    actor = await _name(deps, actor_id)
    await post_to_staff_thread(deps, current, replies.staff_escalated(
        escalation, actor, permalink(deps, escalation.card_post_id),
        replies.update_note(update.sent, update.skip_reason)), role="escalation")
    return escalation


async def move(deps: Deps, ticket_id: int, escalation_id: int, actor_id: str, step: Move,
               detail: str, update: CustomerUpdate) -> Escalation:
    """SET moves the stage: refused unless SET, on the table, and with its customer update."""
    ticket = (await tickets.load(deps, ticket_id, actor_id, Permission.SET_STAGE)).ticket
    now = deps.clock()
    current = await open_for(deps, ticket_id)
    if current is None or current.id != escalation_id:
        raise UserError(replies.STALE_CARD)
    policy.advance(current, step, detail=detail, update=update, actor_id=actor_id, at=now)
    await _send_update(deps, ticket, actor_id, update)
    async with deps.uow() as uow:
        locked = await uow.tickets.get_for_update(ticket_id)  # ticket first, as tickets.change
        fresh = await uow.escalations.open_for(ticket_id, for_update=True)
        if locked is None or fresh is None or fresh.id != escalation_id:
            raise UserError(replies.STALE_CARD)
        moved, event = policy.advance(fresh, step, detail=detail, update=update,
                                      actor_id=actor_id, at=now)
        await uow.escalations.save(moved)
        ticket = await _log(deps, uow, locked, event)
        await uow.commit()
    if moved.stage is Stage.DECLINED:
        ticket = await _back_to_support(deps, ticket, actor_id)
    await refresh_set_card(deps, moved, ticket)
    await tickets.refresh_card(deps, ticket)
    actor = await _name(deps, actor_id)
    await post_to_staff_thread(deps, ticket, replies.staff_stage(
        moved, actor, str(event.data.get("detail", "")),
        replies.update_note(update.sent, update.skip_reason)), role="escalation")
    return moved


async def _log(deps: Deps, uow: UnitOfWork, ticket: Ticket, event: TicketEvent) -> Ticket:
    """Store the event, with the ticket's SLA deadline recomputed (escalation keeps the
    regular-update clock running while Pending: workflows/sla.py)."""
    tracked = await tickets.track_sla(deps, uow, ticket, [event])
    await tickets.save(uow, tracked, [event])
    return tracked


async def _back_to_support(deps: Deps, ticket: Ticket, actor_id: str) -> Ticket:
    """A declined escalation returns the ticket to support: Pending becomes Open again."""
    if ticket.status is Status.PENDING and Action.REOPEN in allowed_actions(ticket):
        assert ticket.id is not None
        updated, _ = await tickets.change(deps, ticket.id, lambda t: lifecycle.apply(
            t, Action.REOPEN, actor_id=actor_id, at=deps.clock()))
        return updated
    return ticket


async def _post_set_card(deps: Deps, escalation: Escalation, ticket: Ticket) -> Escalation:
    """Post the SET card to ~Sustained Engineering and remember it (a failure is logged)."""
    try:
        message, props = await render_set_card(deps, escalation, ticket)
        post = await deps.gateway.create_post(deps.desk.engineering_channel_id, message,
                                              props=props)
    except GatewayError as exc:
        log.warning("posting the SET card of #%s failed: %s", ticket.id, exc)
        return escalation
    posted = replace(escalation, card_post_id=str(post["id"]))
    async with deps.uow() as uow:
        await uow.escalations.save(posted)
        await uow.commit()
    return posted


async def render_set_card(deps: Deps, escalation: Escalation, ticket: Ticket) -> tuple[str, dict]:
    assert ticket.id is not None and escalation.id is not None
    users = await deps.gateway.get_users_by_ids(
        sorted({ticket.requester.user_id, escalation.opened_by}))
    names = {u["id"]: desk_replies.person(u) for u in users}
    message, props = replies.set_card(
        escalation, ticket, requester_name=names.get(ticket.requester.user_id,
                                                     ticket.requester.username),
        opened_by_name=names.get(escalation.opened_by, "support"),
        ticket_card_link=permalink(deps, ticket.card_post_id), now=deps.clock())
    if escalation.is_open:
        props["attachments"][0]["actions"] = [
            cards.button(deps, f"esc{step.value}", replies.move_label(step), ticket.id,
                         "danger" if step is Move.DECLINE else "primary", e=escalation.id)
            for step in policy.next_moves(escalation.stage)
        ]
    return message, props


async def refresh_set_card(deps: Deps, escalation: Escalation, ticket: Ticket) -> None:
    """Edit the SET card in place to show the stage (and the buttons that fit it)."""
    if not escalation.card_post_id:
        return
    try:
        message, props = await render_set_card(deps, escalation, ticket)
        await deps.gateway.update_post(escalation.card_post_id, message, props)
    except GatewayError as exc:
        log.warning("refreshing the SET card of #%s failed: %s", ticket.id, exc)
