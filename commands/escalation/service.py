"""Escalation use cases: start one, move its stage, keep both cards and the customer in step.

Order matters for the promise in support-forms.md: a stage is validated first (pure), then its
customer update and the stage are stored in ONE transaction, with everything it sends queued in
the ticket's outbox lane (issue 8): the customer update, the SET card in ~Sustained Engineering
(posted, or edited in place), the ticket card's refresh and the staff-thread note. Either all of
it happens, once, or none of it; Mattermost being away only delays it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from commands import cards, conversation, messages, outbox, tickets
from commands import metrics as metric_hooks
from commands import replies as desk_replies
from commands.deps import Deps
from commands.errors import UserError
from commands.escalation import replies
from commands.ports import GatewayError, UnitOfWork
from workflows import escalation as policy
from workflows import lifecycle
from workflows.escalation import CustomerUpdate, Escalation, EscalationForm, Move, Stage
from workflows.lifecycle import Action, InvalidTransition, allowed_actions
from workflows.model import EventKind, Status, Ticket, TicketEvent
from workflows.outbox import Action as Send
from workflows.outbox import Outbound, ref, ticket_lane
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


def set_card_key(ticket_id: int, escalation_id: int) -> str:
    """The outbox key of an escalation's SET card post (its edits are `<key>-edit:<nonce>`)."""
    return f"t{ticket_id}:esc{escalation_id}:card"


async def _name(deps: Deps, user_id: str) -> str:
    try:
        return desk_replies.person(await deps.gateway.get_user(user_id))
    except GatewayError:
        return "someone"


def _needs_thread(ticket: Ticket, update: CustomerUpdate) -> None:
    """An update can only be sent once the customer's thread exists."""
    if update.sent and not ticket.customer_root_id:
        raise UserError(replies.NO_CUSTOMER_THREAD)


async def _customer_update(uow: UnitOfWork, ticket: Ticket, actor_id: str, actor_name: str,
                           update: CustomerUpdate, at: Any) -> tuple[list[TicketEvent],
                                                                    list[Outbound]]:
    """The stage's update for the customer's thread(s), logged as a PUBLIC_REPLY (the SLA
    clocks read it), as threads.deliver_reply does, but inside the escalation's transaction."""
    if not update.sent:
        return [], []
    assert ticket.id is not None
    body = update.message.strip()
    event = TicketEvent(ticket.id, EventKind.PUBLIC_REPLY, at, actor_id=actor_id,
                        data={"text": body[:4000]})
    sent = await conversation.public_reply(uow, ticket, actor_name, body,
                                           key=messages.unique(f"t{ticket.id}:reply"))
    return [event], sent


async def open_for(deps: Deps, ticket_id: int) -> Escalation | None:
    async with deps.uow() as uow:
        return await uow.escalations.open_for(ticket_id)


async def _reloaded(deps: Deps, escalation: Escalation) -> Escalation:
    """The escalation as stored now (its SET card's post id, once delivered)."""
    assert escalation.id is not None
    async with deps.uow() as uow:
        return await uow.escalations.get(escalation.id) or escalation


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
    """Escalate to SET: validate; then, together, store it, tell the customer, post the SET
    card, refresh the ticket card and note it in the staff thread."""
    ticket = (await tickets.load(deps, ticket_id, actor_id, Permission.ESCALATE)).ticket
    now = deps.clock()
    policy.open_escalation(ticket, form, update, open_now=await open_for(deps, ticket_id),
                           actor_id=actor_id, at=now)  # refuse before any work
    _needs_thread(ticket, update)
    actor = await _name(deps, actor_id)
    async with deps.uow() as uow:
        current = await uow.tickets.get_for_update(ticket_id)
        assert current is not None
        _needs_thread(current, update)
        escalation, event = policy.open_escalation(
            current, form, update, open_now=await uow.escalations.open_for(ticket_id),
            actor_id=actor_id, at=now)
        escalation = await uow.escalations.add(escalation)  # AlreadyEscalated if a race was lost
        reply, to_customer = await _customer_update(uow, current, actor_id, actor, update, now)
        events = [*reply, event]
        current = await _log(deps, uow, current, events)
        note = replace(
            conversation.staff_note(current, "", role="escalation",
                                    key=set_card_key(ticket_id, _id(escalation)) + ":note"),
            render="escalation_note",
            args={"escalation": escalation.id, "actor": actor,
                  "update": replies.update_note(update.sent, update.skip_reason)})
        await outbox.queue(deps, uow, *to_customer, _set_card_post(escalation))
        await messages.queue_card_refresh(deps, uow, current)
        await outbox.queue(deps, uow, note)
        await uow.commit()
    metric_hooks.events_recorded(events)
    await outbox.flush(deps, [ticket_lane(ticket_id)])
    return await _reloaded(deps, escalation)


async def move(deps: Deps, ticket_id: int, escalation_id: int, actor_id: str, step: Move,
               detail: str, update: CustomerUpdate) -> Escalation:
    """SET moves the stage: refused unless SET, on the table, and with its customer update."""
    ticket = (await tickets.load(deps, ticket_id, actor_id, Permission.SET_STAGE)).ticket
    now = deps.clock()
    current = await open_for(deps, ticket_id)
    if current is None or current.id != escalation_id:
        raise UserError(replies.STALE_CARD)
    policy.advance(current, step, detail=detail, update=update, actor_id=actor_id, at=now)
    _needs_thread(ticket, update)
    actor = await _name(deps, actor_id)
    async with deps.uow() as uow:
        locked = await uow.tickets.get_for_update(ticket_id)  # ticket first, as tickets.change
        fresh = await uow.escalations.open_for(ticket_id, for_update=True)
        if locked is None or fresh is None or fresh.id != escalation_id:
            raise UserError(replies.STALE_CARD)
        _needs_thread(locked, update)
        moved, event = policy.advance(fresh, step, detail=detail, update=update,
                                      actor_id=actor_id, at=now)
        await uow.escalations.save(moved)
        reply, to_customer = await _customer_update(uow, locked, actor_id, actor, update, now)
        changed, back = _back_to_support(locked, moved, actor_id, now)
        events = [*reply, event, *back]
        ticket = await _log(deps, uow, changed, events)
        await outbox.queue(deps, uow, *to_customer)
        await _queue_set_card_edit(deps, uow, moved)
        await messages.queue_card_refresh(deps, uow, ticket)
        await outbox.queue(deps, uow, conversation.staff_note(
            ticket, replies.staff_stage(moved, actor, str(event.data.get("detail", "")),
                                        replies.update_note(update.sent, update.skip_reason)),
            role="escalation", key=messages.unique(set_card_key(ticket_id, escalation_id))))
        await uow.commit()
    metric_hooks.events_recorded(events)
    await outbox.flush(deps, [ticket_lane(ticket_id)])
    return moved


async def _log(deps: Deps, uow: UnitOfWork, ticket: Ticket,
               events: list[TicketEvent]) -> Ticket:
    """Store the events, with the ticket's SLA deadline recomputed (escalation keeps the
    regular-update clock running while Pending: workflows/sla.py)."""
    tracked = await tickets.track_sla(deps, uow, ticket, events)
    await tickets.save(uow, tracked, events)
    return tracked


def _back_to_support(ticket: Ticket, escalation: Escalation, actor_id: str,
                     at: Any) -> tuple[Ticket, list[TicketEvent]]:
    """A declined escalation returns the ticket to support: Pending becomes Open again."""
    if escalation.stage is not Stage.DECLINED or ticket.status is not Status.PENDING:
        return ticket, []
    if Action.REOPEN not in allowed_actions(ticket):
        return ticket, []
    try:
        return lifecycle.apply(ticket, Action.REOPEN, actor_id=actor_id, at=at)
    except InvalidTransition as exc:  # a guard said no: the ticket stays as it is
        log.info("declined escalation of #%s: not reopened: %s", ticket.id, exc)
        return ticket, []


def _id(escalation: Escalation) -> int:
    assert escalation.id is not None, "an escalation is stored before it sends anything"
    return escalation.id


# --- the SET card: rendered at delivery, its post id recorded when it is sent ------------------
def _set_card_post(escalation: Escalation) -> Outbound:
    eid, tid = _id(escalation), escalation.ticket_id
    return Outbound(set_card_key(tid, eid), ticket_lane(tid), channel="engineering",
                    render="set_card", after="set_card", args={"escalation": eid},
                    props={"supportdesk_role": "set_card"}, ticket_id=tid)


async def _queue_set_card_edit(deps: Deps, uow: UnitOfWork, escalation: Escalation) -> bool:
    """Edit the SET card in place (after its post, if that is still queued)."""
    eid, tid = _id(escalation), escalation.ticket_id
    key = set_card_key(tid, eid)
    if not escalation.card_post_id and await uow.outbox.produced(key) is False:
        return False  # never posted (refused for good): nothing to edit
    return bool(await outbox.queue(deps, uow, Outbound(
        messages.unique(f"{key}-edit"), ticket_lane(tid), Send.UPDATE,
        root=escalation.card_post_id or ref(key), render="set_card", args={"escalation": eid},
        ticket_id=tid)))


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


@outbox.renderer("set_card")
async def _render_set_card(deps: Deps, message: Outbound) -> tuple[str, dict] | None:
    """The SET card as the escalation is when it is sent (stage, buttons that fit it)."""
    async with deps.uow() as uow:
        escalation = await uow.escalations.get(int(message.args["escalation"]))
        ticket = await uow.tickets.get(escalation.ticket_id) if escalation else None
    if escalation is None or ticket is None:
        return None
    return await render_set_card(deps, escalation, ticket)


@outbox.effect("set_card")
async def _set_card_posted(deps: Deps, uow: UnitOfWork, message: Outbound, channel_id: str,
                           post_id: str) -> None:
    """Remember the SET card's post, and refresh the ticket card (its Escalation field links
    the SET card; a refresh already waiting renders after this and is enough)."""
    assert message.ticket_id is not None
    ticket = await uow.tickets.get_for_update(message.ticket_id)  # ticket first, as move()
    escalation = await uow.escalations.get(int(message.args["escalation"]), for_update=True)
    if escalation is None:
        return
    await uow.escalations.save(replace(escalation, card_post_id=post_id))
    if ticket is not None:
        await messages.queue_card_refresh(deps, uow, ticket)


@outbox.renderer("escalation_note")
async def _render_escalated_note(deps: Deps, message: Outbound) -> tuple[str, dict] | None:
    """The staff-thread note of a new escalation, linking its SET card (posted just before)."""
    async with deps.uow() as uow:
        escalation = await uow.escalations.get(int(message.args["escalation"]))
    if escalation is None:
        return None
    return replies.staff_escalated(escalation, str(message.args["actor"]),
                                   permalink(deps, escalation.card_post_id),
                                   str(message.args["update"])), {}
