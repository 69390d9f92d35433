"""The scheduled SLA check: warn before a target passes, report the breach, once each.

It reads only tickets whose stored next deadline has come (`uow.tickets.due`, a partial index),
so its cost follows the number due, not the number stored. One transaction per batch of due
tickets locks them, queues each owed notice for the staff thread (outbox key
`t<id>:sla:<id>:<metric>:<cycle>:<state>`), logs it as SLA_WARNED / SLA_BREACHED, queues the
card's refresh and stores the next deadline; the outbox delivers afterwards. The log and the
unique key make each notice once, across restarts, replicas and Mattermost failures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from commands import announce, messages, outbox
from commands import metrics  # observability (issue 11)
from commands.deps import Deps
from commands.ports import GatewayError, UnitOfWork
from commands.sla import replies
from commands.sla.service import SlaDesk
from workflows import sla_watch
from workflows.model import Ticket, TicketEvent
from workflows.outbox import ticket_lane
from workflows.sla import SlaNotice, SlaReport, State

log = logging.getLogger(__name__)

CHUNK = 100  # due tickets per transaction (on SQLite the write lock is held for one chunk)


async def check_sla(deps: Deps, now: datetime) -> int:
    """Queue the warnings and breaches that are due, then deliver them; returns how many were
    queued. No Mattermost call happens inside a transaction."""
    sla: SlaDesk | None = deps.sla
    if sla is None:
        return 0
    async with deps.uow() as uow:  # (id, assignee, requester, stored zone) in one query
        due = await uow.sla.due_people(now, sla.batch)
    if not due:
        return 0
    zones: dict[int, str] = {}
    for tid, _, requester_id, zone in due:  # tickets older than the stored zone: the profile
        zones[tid] = zone if zone is not None else await sla.user_zone(deps.gateway,
                                                                       requester_id, now)
    oncall = sorted(deps.directory.oncall_ids())
    try:
        usernames = await _usernames(deps, [assignee for _, assignee, _, _ in due], oncall)
    except GatewayError as exc:
        if exc.retryable:  # Mattermost is away: queue nothing yet, so the notices can mention
            log.warning("SLA check postponed: user lookup failed (%s)", exc)
            return 0
        log.warning("SLA check: user lookup refused (%s); notices go without mentions", exc)
        usernames = {}
    batch = _Batch(deps, sla, zones, usernames, oncall, now)
    for lo in range(0, len(due), CHUNK):
        ids = [tid for tid, _, _, _ in due[lo : lo + CHUNK]]
        try:
            await batch.run(ids)
        except Exception:  # the database failed: these stay due, the next run retries them
            log.exception("SLA check of %s due tickets failed", len(ids))
    if batch.lanes:
        outbox.flush_soon(deps, batch.lanes)
    return batch.queued


async def _usernames(deps: Deps, assignees: Sequence[str | None],
                     oncall: list[str]) -> dict[str, str]:
    """user id -> username of every assignee and, if a ticket is unassigned, every on-call person
    (one lookup for the whole run)."""
    ids = {a for a in assignees if a}
    if not all(assignees):
        ids |= set(oncall)
    if not ids:
        return {}
    users = await deps.gateway.get_users_by_ids(sorted(ids))
    return {str(u["id"]): str(u["username"]) for u in users if u.get("id") and u.get("username")}


class _Batch:
    """One check run's state: what it knows before locking, what it queued."""

    def __init__(self, deps: Deps, sla: SlaDesk, zones: dict[int, str],
                 usernames: dict[str, str], oncall: list[str], now: datetime) -> None:
        self.deps, self.sla, self.zones, self.now = deps, sla, zones, now
        self.usernames, self.oncall = usernames, oncall
        self.queued = 0
        self.lanes: list[str] = []

    async def run(self, ids: list[int]) -> None:
        """One transaction: lock the tickets still due, queue and log what they owe, store when
        to look again. A ticket whose evaluation fails is skipped (it stays due)."""
        async with self.deps.uow() as uow:
            locked = await uow.sla.lock_due(ids, self.now)
            logs = await uow.sla.events([_id(t) for t in locked]) if locked else {}
            owing: list[tuple[Ticket, list[SlaNotice], list[str]]] = []
            deadlines: dict[int, datetime | None] = {}
            for ticket in locked:
                events = logs.get(_id(ticket), [])
                try:
                    report = self.sla.report(ticket, events, self.zones.get(_id(ticket)), self.now)
                    owed, watch = sla_watch.settle(report, events)
                    texts = [self._text(ticket, n, report) for n in owed]
                except Exception:  # noqa: BLE001 - one bad ticket must not stop the others
                    log.exception("SLA check of #%s failed", ticket.id)
                    continue
                if owed:
                    owing.append((ticket, owed, texts))
                if watch != ticket.next_deadline_at:
                    deadlines[_id(ticket)] = watch
            logged = await self._queue(uow, owing)
            await uow.sla.add_events(logged)
            await uow.sla.set_deadlines(deadlines)
            await uow.commit()
        metrics.events_recorded(logged)  # observability (issue 11): counts SLA_BREACHED
        self.queued += len(logged)
        self.lanes += sorted({ticket_lane(e.ticket_id) for e in logged})

    async def _queue(self, uow: UnitOfWork,
                     owing: list[tuple[Ticket, list[SlaNotice], list[str]]]) -> list[TicketEvent]:
        """Queue the notices, then the refresh of those tickets' cards (in one bulk insert, so
        each lane gets them in that order); the events of the notices queued now (a key queued
        before is another run's: in that race the card is refreshed once more, harmlessly)."""
        for ticket, _, _ in owing:
            if ticket.card_post_id is None:  # the notices name the card: it must be queued first
                await announce.queue_announcement(self.deps, uow, ticket,
                                                  ticket.requester.username)
        notices = [(n, messages.to_staff_thread(ticket, text, role=f"sla_{n.state}",
                                                key=sla_watch.outbox_key(n)))
                   for ticket, owed, texts in owing for n, text in zip(owed, texts, strict=True)]
        tickets = [ticket for ticket, _, _ in owing]
        waiting = await uow.outbox.waiting_lanes([ticket_lane(_id(t)) for t in tickets], "card",
                                                 self.deps.clock())
        fresh = [t for t in tickets if ticket_lane(_id(t)) not in waiting]
        edits = [messages.card_refresh(t) for t in fresh if t.card_post_id]
        added = await uow.outbox.add_all([*(m for _, m in notices), *edits], self.deps.clock())
        for ticket in fresh:
            if not ticket.card_post_id:  # rare: its card is being posted right now
                await messages.queue_card_refresh(self.deps, uow, ticket)
        return [sla_watch.notice_event(n, self.now, m.key) for n, m in notices if m.key in added]

    def _text(self, ticket: Ticket, notice: SlaNotice, report: SlaReport) -> str:
        m = report[notice.metric]
        mention = replies.mention_for(ticket, self.usernames, self.oncall)
        if notice.state is State.WARNING:
            return replies.warning(ticket, notice, m.deadline_at, m.target, mention, self.now)
        return replies.breach(ticket, notice, m.target, mention, self.now)


def _id(ticket: Ticket) -> int:
    assert ticket.id is not None
    return ticket.id
