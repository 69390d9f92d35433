"""The paging check (a scheduled job), acknowledgement and resolution of pages.

The decision is pure (workflows/paging.py); this module only sequences I/O around it:
claim the page's row first (the unique (ticket, round, level) key), then send, then log.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime

from commands import cards, tickets
from commands import replies as desk_replies
from commands.conversation import post_to_staff_thread
from commands.deps import Deps
from commands.errors import UserError
from commands.oncall import replies
from commands.oncall.service import OncallService, on_call_now
from commands.ports import GatewayError
from workflows import lifecycle, text
from workflows.lifecycle import Action
from workflows.model import EventKind, Status, Ticket, TicketEvent
from workflows.oncall import (
    CHANNEL,
    PageDecision,
    PageState,
    pagerduty_event,
    pages_due,
)
from workflows.paging import PagerDutyAction
from workflows.permissions import Permission

log = logging.getLogger(__name__)

FINISHED = (Status.SOLVED, Status.CLOSED)


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
    assert ticket.id is not None
    level = str(decision.level)
    async with deps.uow() as uow:
        first_of_episode = not await uow.oncall.open_pages(ticket.id)
        claimed = await uow.oncall.claim_page(ticket.id, decision.round, level, decision.user, now)
        await uow.commit()
    if not claimed:  # another check or replica got there first
        return 0
    try:
        if decision.level == CHANNEL:
            await _alert_channel(deps, service, ticket, decision)
            delivered = True
        else:
            delivered = await _page_person(deps, service, ticket, decision, now)
    except GatewayError as exc:
        log.warning("page %s for #%s not sent (will retry): %s", decision.key, ticket.id, exc)
        async with deps.uow() as uow:
            await uow.oncall.release_page(ticket.id, decision.round, level)
            await uow.commit()
        return 0
    await tickets.record(deps, TicketEvent(
        ticket.id, EventKind.PAGED, now, to_value=level,
        data={"round": decision.round, "level": level, "user": decision.user,
              "reason": decision.reason.value, "delivered": delivered},
    ))
    log.info("paged %s about #%s (%s, round %s, %s)", decision.user or "the channel", ticket.id,
             level, decision.round, decision.reason.value)
    if first_of_episode:
        send_webhook(deps, "trigger", ticket)
    return 1


async def _page_person(deps: Deps, service: OncallService, ticket: Ticket,
                       decision: PageDecision, now: datetime) -> bool:
    """A DM with the card's facts and the buttons, then an @mention in the staff thread."""
    assert ticket.id is not None and decision.user is not None
    user = await service.user(deps.gateway, decision.user, now)
    if user is None:  # a misconfigured rota: keep the claim, so the chain moves on in time
        log.error("on-call: no Mattermost user @%s to page about #%s", decision.user, ticket.id)
        return False
    names = await cards.names_for(deps, ticket)
    fields = desk_replies.card_fields(
        ticket, requester_name=names.get(ticket.requester.user_id, ticket.requester.username),
        cc_names=[names[i] for i in ticket.form.cc_user_ids if i in names],
        assignee_name=names.get(ticket.assignee_id or "", ""),
        age=text.format_age(ticket.created_at, now),
    )
    card = ticket.card_post_id
    link = service.permalink(deps.desk.team_name, card) if card else ""  # no card yet: no link
    message, props = replies.page_dm(ticket, decision, fields, link)
    props["attachments"][0]["actions"] = [
        cards.button(deps, "ack", "Acknowledge", ticket.id, "primary"),
        cards.button(deps, "viewticket", "View ticket", ticket.id),
    ]
    channel_id = await deps.gateway.direct_channel(str(user["id"]))
    await deps.gateway.create_post(channel_id, message, props=props)
    try:
        mention = replies.staff_thread_page(decision.user, decision)
        await post_to_staff_thread(deps, ticket, mention, role="page")
    except GatewayError as exc:  # the DM went out: the page counts
        log.warning("staff-thread mention of the page for #%s failed: %s", ticket.id, exc)
    return True


async def _alert_channel(deps: Deps, service: OncallService, ticket: Ticket,
                         decision: PageDecision) -> None:
    """After the last round: @channel in ~Customer Support (everyone, not only who is online)."""
    link = service.permalink(deps.desk.team_name, ticket.card_post_id or "")
    await deps.gateway.create_post(
        deps.desk.support_channel_id, replies.channel_alert(ticket, decision.round, link),
        props={"supportdesk_ticket": ticket.id, "supportdesk_role": "page_channel"},
    )


async def acknowledge(deps: Deps, ticket_id: int, user_id: str) -> str:
    """Stop the escalation; assign the ticket to the acknowledger if nobody has it."""
    acting = await tickets.load(deps, ticket_id, user_id, Permission.ACK_PAGE)
    now = deps.clock()
    ref = desk_replies.ref(ticket_id)
    async with deps.uow() as uow:
        if not await uow.oncall.acknowledge(ticket_id, user_id, now):
            still_open = await uow.oncall.open_pages(ticket_id)
            raise UserError((replies.ALREADY_ACKED if still_open else replies.NO_OPEN_PAGE)
                            .format(ref=ref))
        await uow.events.add(TicketEvent(ticket_id, EventKind.PAGE_ACKNOWLEDGED, now,
                                         actor_id=user_id))
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
    name = desk_replies.person(await deps.gateway.get_user(user_id))
    try:
        await post_to_staff_thread(deps, acting.ticket, replies.ack_note(name), role="page_ack")
    except GatewayError as exc:
        log.warning("staff-thread note of the ack on #%s failed: %s", ticket_id, exc)
    send_webhook(deps, "acknowledge", acting.ticket)
    return replies.acknowledged(ticket_id, assigned)


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
            await uow.commit()
        resolved += 1
        try:
            await post_to_staff_thread(deps, ticket, replies.resolved_note(), role="page_resolved")
        except GatewayError as exc:
            log.warning("staff-thread note of the resolved page on #%s failed: %s", ticket_id, exc)
        send_webhook(deps, "resolve", ticket)
    return resolved


def send_webhook(deps: Deps, action: PagerDutyAction, ticket: Ticket) -> None:
    """Fire and forget: a slow or failing pager never holds up paging in Mattermost."""
    service: OncallService | None = deps.oncall
    if service is None or service.webhook is None:
        return
    link = service.permalink(deps.desk.team_name, ticket.card_post_id or "")
    event = pagerduty_event(action, ticket, service.routing_key, ticket_url=link)
    webhook = service.webhook

    async def send() -> None:
        try:
            await webhook.send(event)
        except Exception as exc:  # noqa: BLE001 - any failure of the pager is only logged
            log.warning("on-call webhook %s for #%s failed: %s", action, ticket.id, exc)

    deps.background.spawn(send(), name=f"oncall-webhook-{action}-{ticket.id}")
