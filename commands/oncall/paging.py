"""The paging check (a scheduled job), acknowledgement and resolution of pages.

The decision is pure (workflows/paging.py); this module only sequences I/O around it. A page's
row (the unique (ticket, round, level) claim), its PAGED event, the DM and the staff-thread
@mention are stored in ONE transaction, the messages in the ticket's outbox lane (issue 8): a
crash or a Mattermost outage anywhere neither loses the page nor sends it twice. The DM and the
@channel alert are rendered at delivery, so they link the ticket card even if it was posted late.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from commands import cards, conversation, messages, outbox, tickets
from commands import metrics as metric_hooks
from commands import replies as desk_replies
from commands.deps import Deps
from commands.errors import UserError
from commands.oncall import replies
from commands.oncall.service import OncallService, on_call_now
from commands.ports import GatewayError, UnitOfWork
from workflows import lifecycle, text
from workflows.lifecycle import Action
from workflows.model import EventKind, Status, Ticket, TicketEvent
from workflows.oncall import (
    CHANNEL,
    Level,
    PageDecision,
    PageReason,
    PageState,
    pagerduty_event,
    pages_due,
)
from workflows.outbox import DM, Outbound, pager_lane, ticket_lane
from workflows.outbox import Action as OutboxAction
from workflows.paging import PagerDutyAction
from workflows.permissions import Permission

log = logging.getLogger(__name__)

FINISHED = (Status.SOLVED, Status.CLOSED)


def page_key(ticket_id: int, round_: int, level: str) -> str:
    """The outbox key of a page (its DM, or the @channel alert): one per claimed page row."""
    return f"t{ticket_id}:page:{round_}:{level}"


async def check_oncall(deps: Deps, now: datetime) -> int:
    """Send every page that is due (at most one per ticket per run); resolve answered pages."""
    service: OncallService | None = deps.oncall
    if service is None or not service.enabled:
        return 0
    on_call, stored = await on_call_now(deps, now)
    async with deps.uow() as uow:
        candidates = await uow.oncall.pageable_tickets(service.policy.pageable)
        ids = [t.id for t in candidates if t.id is not None]
        facts = await uow.oncall.page_facts(ids)
        pages = await uow.oncall.pages_for(ids)
    states = [
        PageState.of(t, **asdict(facts[t.id]),
                     pages_sent=tuple(p.sent() for p in pages.get(t.id, [])))
        for t in candidates if t.id is not None
    ]
    already = {(p.ticket_id, p.round, p.level) for found in pages.values() for p in found}
    decisions = pages_due(states, service.rota, [o.to_rota() for o in stored], already,
                          service.policy, now)
    by_id = {t.id: t for t in candidates}
    sent = 0
    for decision in decisions:
        sent += await _page(deps, service, by_id[decision.ticket_id], decision, now)
    return sent + await resolve_answered(deps, now)


async def _page(deps: Deps, service: OncallService, ticket: Ticket, decision: PageDecision,
                now: datetime) -> int:
    """Claim the page and queue what it sends, together; then deliver. 0 if someone else did."""
    assert ticket.id is not None
    level = str(decision.level)
    user_id: str | None = None
    if decision.level != CHANNEL:
        assert decision.user is not None
        try:
            user = await service.user(deps.gateway, decision.user, now)
        except GatewayError as exc:  # nothing claimed yet: the next check pages
            log.warning("page %s for #%s not sent (will retry): %s", decision.key, ticket.id, exc)
            return 0
        if user is None:  # a misconfigured rota: claim it anyway, so the chain moves on in time
            log.error("on-call: no Mattermost user @%s to page about #%s", decision.user,
                      ticket.id)
        else:
            user_id = str(user["id"])
    delivered = decision.level == CHANNEL or user_id is not None
    event = TicketEvent(
        ticket.id, EventKind.PAGED, now, to_value=level,
        data={"round": decision.round, "level": level, "user": decision.user,
              "reason": decision.reason.value, "delivered": delivered},
    )
    async with deps.uow() as uow:
        first_of_episode = not await uow.oncall.open_pages(ticket.id)
        if not await uow.oncall.claim_page(ticket.id, decision.round, level, decision.user, now):
            return 0  # another check or replica got there first (nothing is queued twice)
        current = await uow.tickets.get(ticket.id) or ticket
        await uow.events.add(event)
        await outbox.queue(deps, uow, *_page_messages(current, decision, user_id))
        if first_of_episode:
            await _queue_webhook(deps, uow, "trigger", current)
        await uow.commit()
    metric_hooks.events_recorded([event])  # observability (issue 11): pages fired
    log.info("paged %s about #%s (%s, round %s, %s)", decision.user or "the channel", ticket.id,
             level, decision.round, decision.reason.value)
    await outbox.flush(deps, [ticket_lane(ticket.id)])
    if first_of_episode:
        _flush_webhook(deps, ticket.id)
    return 1


def _page_messages(ticket: Ticket, decision: PageDecision, user_id: str | None) -> list[Outbound]:
    """What a page sends: the @channel alert; or the DM and the staff-thread @mention (nothing
    for a rota name with no Mattermost user)."""
    assert ticket.id is not None
    tid, level = ticket.id, str(decision.level)
    key = page_key(tid, decision.round, level)
    args: dict[str, Any] = {"ticket": tid, "round": decision.round, "level": level,
                            "user": decision.user, "reason": decision.reason.value}
    if decision.level == CHANNEL:
        return [Outbound(key, ticket_lane(tid), channel="support", render="oncall_channel",
                         props={"supportdesk_role": "page_channel"}, args=args, ticket_id=tid)]
    if user_id is None:
        return []
    assert decision.user is not None
    return [
        Outbound(key, ticket_lane(tid), channel=DM + user_id, render="oncall_page",
                 props={"supportdesk_role": "page"}, args=args, ticket_id=tid),
        conversation.staff_note(ticket, replies.staff_thread_page(decision.user, decision),
                                role="page", key=f"{key}:mention"),
    ]


def _decision(args: dict[str, Any]) -> PageDecision:
    level = str(args["level"])
    return PageDecision(int(args["ticket"]), CHANNEL if level == CHANNEL else Level(level),
                        int(args["round"]), args.get("user"), PageReason(str(args["reason"])))


async def _current(deps: Deps, message: Outbound) -> Ticket | None:
    async with deps.uow() as uow:
        return await uow.tickets.get(int(message.args["ticket"]))


@outbox.renderer("oncall_page")
async def _render_page(deps: Deps, message: Outbound) -> tuple[str, dict[str, Any]] | None:
    """The page DM as the ticket is at delivery: why, the card's facts, the buttons."""
    ticket = await _current(deps, message)
    if ticket is None or ticket.id is None:
        return None
    service: OncallService | None = deps.oncall
    now = deps.clock()
    names = await cards.names_for(deps, ticket)
    fields = desk_replies.card_fields(
        ticket, requester_name=names.get(ticket.requester.user_id, ticket.requester.username),
        cc_names=[names[i] for i in ticket.form.cc_user_ids if i in names],
        assignee_name=names.get(ticket.assignee_id or "", ""),
        age=text.format_age(ticket.created_at, now),
    )
    card = ticket.card_post_id
    link = service.permalink(deps.desk.team_name, card) if card and service else ""
    body, props = replies.page_dm(ticket, _decision(dict(message.args)), fields, link)
    props["attachments"][0]["actions"] = [
        cards.button(deps, "ack", "Acknowledge", ticket.id, "primary"),
        cards.button(deps, "viewticket", "View ticket", ticket.id),
    ]
    return body, props


@outbox.renderer("oncall_channel")
async def _render_channel_alert(deps: Deps,
                                message: Outbound) -> tuple[str, dict[str, Any]] | None:
    """After the last round: @channel in ~Customer Support (everyone, not only who is online)."""
    ticket = await _current(deps, message)
    if ticket is None:
        return None
    service: OncallService | None = deps.oncall
    link = service.permalink(deps.desk.team_name, ticket.card_post_id or "") if service else ""
    return replies.channel_alert(ticket, int(message.args["round"]), link), {}


async def acknowledge(deps: Deps, ticket_id: int, user_id: str) -> str:
    """Stop the escalation; assign the ticket to the acknowledger if nobody has it."""
    acting = await tickets.load(deps, ticket_id, user_id, Permission.ACK_PAGE)
    now = deps.clock()
    ref = desk_replies.ref(ticket_id)
    name = desk_replies.person(await deps.gateway.get_user(user_id))
    async with deps.uow() as uow:
        if not await uow.oncall.acknowledge(ticket_id, user_id, now):
            still_open = await uow.oncall.open_pages(ticket_id)
            raise UserError((replies.ALREADY_ACKED if still_open else replies.NO_OPEN_PAGE)
                            .format(ref=ref))
        await uow.events.add(TicketEvent(ticket_id, EventKind.PAGE_ACKNOWLEDGED, now,
                                         actor_id=user_id))
        await _note(deps, uow, acting.ticket, replies.ack_note(name), role="page_ack")
        await _queue_webhook(deps, uow, "acknowledge", acting.ticket)
        await uow.commit()
    assigned = False
    if acting.ticket.assignee_id is None and await deps.directory.is_staff(user_id):
        def take(t: Ticket) -> tuple[Ticket, list[TicketEvent]]:
            if t.assignee_id is not None:
                return t, []
            return lifecycle.apply(t, Action.ASSIGN, actor_id=user_id, at=now, assignee_id=user_id)

        try:
            _, events = await tickets.change(deps, ticket_id, take)
            assigned = bool(events)
        except UserError as exc:
            log.info("acknowledged #%s not assigned: %s", ticket_id, exc)
    await outbox.flush(deps, [ticket_lane(ticket_id)])
    _flush_webhook(deps, ticket_id)
    return replies.acknowledged(ticket_id, assigned)


async def _note(deps: Deps, uow: UnitOfWork, ticket: Ticket, message: str, *, role: str) -> None:
    """Queue a staff-thread note in the caller's transaction (the ticket as stored now)."""
    assert ticket.id is not None
    current = await uow.tickets.get(ticket.id) or ticket
    await outbox.queue(deps, uow, conversation.staff_note(
        current, message, role=role, key=messages.unique(f"t{ticket.id}:{role}")))


async def resolve_answered(deps: Deps, now: datetime) -> int:
    """Pages whose ticket got a public reply (or was solved) since: PAGE_RESOLVED, once."""
    async with deps.uow() as uow:
        ids = await uow.oncall.tickets_with_open_pages()
        facts = await uow.oncall.page_facts(ids)
        pages = await uow.oncall.pages_for(ids)
        found = {i: await uow.tickets.get(i) for i in ids}
    resolved = 0
    for ticket_id in ids:
        ticket = found[ticket_id]
        open_pages = [p for p in pages.get(ticket_id, []) if p.resolved_at is None]
        if ticket is None or not open_pages:
            continue
        replied_at = facts[ticket_id].last_public_reply_at
        answered = replied_at is not None and replied_at >= min(p.paged_at for p in open_pages)
        if not (answered or ticket.status in FINISHED):
            continue
        async with deps.uow() as uow:
            if not await uow.oncall.resolve(ticket_id, now):
                continue
            await uow.events.add(TicketEvent(
                ticket_id, EventKind.PAGE_RESOLVED, now,
                data={"by": "public_reply" if answered else ticket.status.value}))
            await _note(deps, uow, ticket, replies.resolved_note(), role="page_resolved")
            await _queue_webhook(deps, uow, "resolve", ticket)
            await uow.commit()
        resolved += 1
        await outbox.flush(deps, [ticket_lane(ticket_id)])
        _flush_webhook(deps, ticket_id)
    return resolved


async def _queue_webhook(deps: Deps, uow: UnitOfWork, action: PagerDutyAction,
                         ticket: Ticket) -> None:
    """Queue the page event for the external pager in the caller's transaction (reliability:
    a crash or a pager outage no longer loses it; the outbox retries it, in order per ticket,
    in its own lane so a pager that is down never holds up the ticket's Mattermost posts).
    At least once: a repeat after an ambiguous failure carries the same dedup_key."""
    service: OncallService | None = deps.oncall
    if service is None or service.webhook is None or ticket.id is None:
        return
    link = service.permalink(deps.desk.team_name, ticket.card_post_id or "")
    event = pagerduty_event(action, ticket, service.routing_key, ticket_url=link)
    await outbox.queue(deps, uow, Outbound(
        messages.unique(f"pd{ticket.id}:{action}"), pager_lane(ticket.id), OutboxAction.WEBHOOK,
        args={"event": event}, ticket_id=ticket.id))


def _flush_webhook(deps: Deps, ticket_id: int) -> None:
    """Deliver the pager's lane in the background: a slow pager never holds up paging."""
    if deps.oncall is not None and deps.oncall.webhook is not None:
        outbox.flush_soon(deps, [pager_lane(ticket_id)])
