"""The scheduled SLA check: warn before a target passes, report the breach, once each.

It reads only tickets whose stored next deadline has come (`uow.tickets.due`, a partial index),
so its cost follows the number due, not the number stored. A notice is claimed (ticket, metric,
cycle, state) before it is posted and released if posting fails, so restarts and replicas post
it once; the post is then logged as SLA_WARNED / SLA_BREACHED, which the deadline reads back.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from commands import conversation, tickets
from commands import metrics  # observability (issue 11)
from commands.deps import Deps
from commands.ports import GatewayError
from commands.sla import replies
from commands.sla.service import SlaDesk
from workflows import sla_watch
from workflows.model import Ticket, TicketEvent
from workflows.sla import SlaNotice, SlaReport, State

log = logging.getLogger(__name__)

CLAIM_KIND = "sla_notice"


async def check_sla(deps: Deps, now: datetime) -> int:
    """Post the warnings and breaches that are due; returns how many were posted."""
    sla: SlaDesk | None = deps.sla
    if sla is None:
        return 0
    async with deps.uow() as uow:
        due = await uow.tickets.due(now, limit=sla.batch)
        ids = [t.id for t in due if t.id is not None]
        logs = await uow.sla.events(ids)
        zones = await uow.sla.zones(ids)
    posted = 0
    for ticket in due:
        assert ticket.id is not None
        try:
            posted += await check_ticket(deps, sla, ticket, logs.get(ticket.id, []),
                                         zones.get(ticket.id), now)
        except Exception:  # one bad ticket must not stop the others
            log.exception("SLA check of #%s failed", ticket.id)
    return posted


async def check_ticket(deps: Deps, sla: SlaDesk, ticket: Ticket, events: list[TicketEvent],
                       zone: str | None, now: datetime) -> int:
    """Post what this ticket owes, then store when to look at it again."""
    assert ticket.id is not None
    if zone is None:
        zone = await sla.user_zone(deps.gateway, ticket.requester.user_id, now)
    report = sla.report(ticket, events, zone, now)
    done: list[TicketEvent] = []
    settled: set[sla_watch.NoticeKey] = set()  # posted here, or claimed by another replica
    failed = False
    for notice in sla_watch.owed(report, sla_watch.sent(events)):
        outcome = await _post_once(deps, ticket, notice, report, now)
        if outcome is None:
            failed = True
            continue
        settled.add(sla_watch.notice_key(notice))
        if outcome:
            done.append(sla_watch.notice_event(notice, now, outcome))
    updated = await _store(deps, sla, ticket.id, done, settled, zone, now, keep_due=failed)
    if done and updated is not None:
        await tickets.refresh_card(deps, updated)
    return len(done)


async def _post_once(deps: Deps, ticket: Ticket, notice: SlaNotice, report: SlaReport,
                     now: datetime) -> str | None:
    """The post id; "" when another run already claimed it; None when posting failed."""
    key = sla_watch.claim_key(notice)
    async with deps.uow() as uow:
        first = await uow.claims.claim(CLAIM_KIND, key)
        await uow.commit()
    if not first:
        return ""
    try:
        if not ticket.card_post_id:
            raise GatewayError(0, message="the ticket's card is not posted yet")
        message = await _message(deps, ticket, notice, report, now)
        post = await deps.gateway.create_post(
            deps.desk.support_channel_id, message, root_id=ticket.card_post_id,
            props={"supportdesk_ticket": ticket.id, "supportdesk_role": f"sla_{notice.state}"},
        )
    except GatewayError as exc:
        log.warning("SLA %s for #%s not posted (will retry): %s", notice.state, ticket.id, exc)
        async with deps.uow() as uow:
            await uow.claims.release(CLAIM_KIND, key)
            await uow.commit()
        return None
    return str(post.get("id") or "-")


async def _message(deps: Deps, ticket: Ticket, notice: SlaNotice, report: SlaReport,
                   now: datetime) -> str:
    m = report[notice.metric]
    mention = await mention_for(deps, ticket)
    if notice.state is State.WARNING:
        return replies.warning(ticket, notice, m.deadline_at, m.target, mention, now)
    return replies.breach(ticket, notice, m.target, mention, now)


async def mention_for(deps: Deps, ticket: Ticket) -> str:
    """The assignee; unassigned: whoever the on-call feature has on duty, else @here."""
    ids = [ticket.assignee_id] if ticket.assignee_id else sorted(deps.directory.oncall_ids())
    if ids:
        users = await deps.gateway.get_users_by_ids(ids)
        names = [f"@{u['username']}" for u in users if u.get("username")]
        if names:
            return " ".join(names) + ("" if ticket.assignee_id else f" ({replies.UNASSIGNED})")
    if ticket.assignee_id:  # the assignee's account could not be read: no mention
        return "The assignee:"
    return f"@here ({replies.UNASSIGNED})"


async def _store(deps: Deps, sla: SlaDesk, ticket_id: int, done: list[TicketEvent],
                 settled: set[sla_watch.NoticeKey], zone: str, now: datetime, *,
                 keep_due: bool) -> Ticket | None:
    """Log the posted notices and set the next deadline from the log as it is now (locked)."""
    async with deps.uow() as uow:
        ticket = await uow.tickets.get_for_update(ticket_id)
        if ticket is None:
            return None
        for event in done:
            await uow.events.add(event)
        events = await uow.events.for_ticket(ticket_id)
        report = sla.report(ticket, events, zone, now)
        watch = sla_watch.watch_at(report, sla_watch.sent(events) | settled)
        if keep_due:  # a post failed: stay due so the next run retries it
            watch = min(watch, now) if watch else now
        if watch != ticket.next_deadline_at:
            ticket = replace(ticket, next_deadline_at=watch)
            await uow.tickets.save(ticket)
        await uow.commit()
    metrics.events_recorded(done)  # observability (issue 11): counts SLA_BREACHED
    return ticket
