"""Intake: `/ticket new` and `/ticket sales` open the form; a valid submission becomes a ticket."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import replace
from datetime import timedelta

from commands import replies, tickets  # tickets: SLA hook (issue 4)
from commands.deps import Deps
from commands.dialogs import INTAKE_CALLBACK, intake_dialog
from commands.models import DialogResult, DialogSubmission, Reply, SlashCommand
from commands.ports import GatewayError
from commands.router import DIALOGS, TICKET
from commands.signing import BadSignature
from commands import ratelimit  # security (issue 9)
from commands import logcontext, metrics as metric_hooks  # observability (issue 11)
from commands import outbox  # reliability (issue 8)
from commands.announce import queue_announcement  # reliability (issue 8)
from workflows.outbox import ticket_lane  # reliability (issue 8)
from workflows import forms, lifecycle
from workflows.customers import match_customer
from workflows.model import EventKind, Form, Priority, Requester, TicketEvent, TicketForm

log = logging.getLogger(__name__)

# A dialog may stay open while the customer gathers logs; a day is generous but bounded.
STATE_TTL = timedelta(days=1)


@TICKET.subcommand("new", usage="new", summary="open a Technical Support ticket (a form opens)")
async def open_technical(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    return await open_form(Form.TECHNICAL, cmd, deps)


@TICKET.subcommand("sales", usage="sales", summary="open a Sales Support ticket (a form opens)")
async def open_sales(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    return await open_form(Form.SALES, cmd, deps)


async def open_form(
    form: Form, cmd: SlashCommand | None, deps: Deps, *, follow_up_of: int | None = None,
    trigger_id: str | None = None, user_id: str | None = None,
) -> Reply:
    """Open the intake dialog at once: the trigger_id expires (30 s default), so no DB call first."""
    if (limited := _intake_limited(deps, user_id or (cmd.user_id if cmd else ""), spend=False)):
        return Reply.ephemeral(limited)  # security (issue 9): say so before the form is filled in
    state = deps.signer.sign(
        "intake",
        {"u": user_id or (cmd.user_id if cmd else ""), "f": form.value, "n": secrets.token_hex(8), "l": follow_up_of},
        now=deps.clock(),
        ttl=STATE_TTL,
    )
    intro = f"Follow-up to ticket **#{follow_up_of}**.\n\n" if follow_up_of else ""
    dialog = intake_dialog(forms.FORMS[form], state=state, intro_prefix=intro)
    try:
        await deps.gateway.open_dialog(trigger_id or (cmd.trigger_id if cmd else ""), deps.desk.dialog_url, dialog)
    except GatewayError as exc:
        log.warning("opening the %s dialog failed: %s", form.value, exc)
        return Reply.ephemeral(replies.DIALOG_FAILED)
    return Reply.empty()


@DIALOGS.callback(INTAKE_CALLBACK)
async def submit_intake(sub: DialogSubmission, deps: Deps) -> DialogResult:
    """Verify the signed state, validate every field, store the ticket, announce it after answering."""
    if sub.cancelled:
        return DialogResult.ok()
    try:
        origin = deps.signer.verify("intake", sub.state, now=deps.clock())
    except BadSignature as exc:
        log.warning("refused intake submission from user %s: state %s", sub.user_id, exc)
        return DialogResult.refused(replies.STATE_REFUSED)
    if origin.get("u") != sub.user_id or origin.get("f") not in {f.value for f in Form}:
        log.warning("refused intake submission: state issued to %s, sent by %s",
                    origin.get("u"), sub.user_id)
        return DialogResult.refused(replies.STATE_REFUSED)
    spec = forms.FORMS[Form(origin["f"])]
    checked = forms.validate(spec, sub.submission)
    if isinstance(checked, dict):
        return DialogResult.field_errors(checked)
    requester = await deps.gateway.get_user(sub.user_id)
    cc_ids, unknown = await resolve_cc(checked.cc_tokens, deps, requester_id=sub.user_id)
    if unknown:
        return DialogResult.field_errors({"cc": replies.cc_unknown(unknown)})
    if (limited := _intake_limited(deps, sub.user_id, spend=True)):  # security (issue 9)
        return DialogResult.refused(limited)
    ticket_id = await store_ticket(spec.form, checked, requester, cc_ids, origin, deps)
    if ticket_id is not None:  # queued with the ticket: delivered after the answer
        outbox.flush_soon(deps, [ticket_lane(ticket_id)])
    return DialogResult.ok()


def _intake_limited(deps: Deps, user_id: str, *, spend: bool) -> str | None:
    """Per-user ticket limit ([security] intake_per_hour): the refusal sentence, or None."""
    if deps.limits is None:
        return None
    buckets = deps.limits.intake
    wait = (buckets.take if spend else buckets.check)(user_id, deps.clock())
    if wait is None:
        return None
    log.info("intake rate-limited for user %s", user_id)
    return ratelimit.too_many_tickets(buckets.capacity, wait)


async def resolve_cc(
    tokens: tuple[str, ...], deps: Deps, *, requester_id: str
) -> tuple[tuple[str, ...], list[str]]:
    """Map @usernames / usernames / e-mails to user ids; the requester and repeats are dropped."""
    users = await asyncio.gather(*(_lookup(t, deps) for t in tokens))
    unknown = [t for t, u in zip(tokens, users, strict=True) if u is None]
    ids: dict[str, None] = {}
    for user in users:
        if user is not None and user["id"] != requester_id:
            ids.setdefault(user["id"], None)
    return tuple(ids), unknown


async def _lookup(token: str, deps: Deps) -> dict | None:
    name = token.removeprefix("@")
    if "@" in name:
        return await deps.gateway.get_user_by_email(name)
    if not forms.USERNAME_RE.match(name):
        return None
    return await deps.gateway.get_user_by_username(name)


async def store_ticket(
    form: Form, checked: forms.CheckedForm, requester: dict, cc_ids: tuple[str, ...],
    origin: dict, deps: Deps,
) -> int | None:
    """Store ticket + OPENED event once per dialog (the nonce): a double submit creates one ticket."""
    v = checked.values
    customer = match_customer(
        deps.desk.customers, username=requester.get("username", ""), email=requester.get("email", "")
    )
    ticket_form = TicketForm(
        form=form, subject=v["subject"], description=v["description"], category=v["category"],
        priority=Priority(v["priority"]) if v.get("priority") else Priority.NORMAL,
        environment=v.get("environment") or None,
        mattermost_version=v.get("mattermost_version") or None,
        mobile_version=v.get("mobile_version") or None,
        mobile_device=v.get("mobile_device") or None,
        cc_user_ids=cc_ids,
    )
    who = Requester(
        user_id=requester["id"], username=requester.get("username", ""),
        organisation=customer.name if customer else None, plan=customer.plan if customer else None,
    )
    now = deps.clock()
    ticket = lifecycle.open_ticket(ticket_form, who, now)
    if isinstance(origin.get("l"), int):
        ticket = replace(ticket, follow_up_of=origin["l"])
    opened = TicketEvent(0, EventKind.OPENED, now, actor_id=who.user_id,  # numbered when stored
                         to_value=ticket.status.value)
    ticket, zone = tickets.first_deadline(deps, ticket, requester, opened)  # SLA (issue 4)
    async with deps.uow() as uow:
        stored = await uow.tickets.add(ticket)
        assert stored.id is not None
        opened = await uow.events.add(replace(opened, ticket_id=stored.id))
        await tickets.track_intake(deps, uow, stored, zone, [opened])
        # Claimed last, with the ticket's number: a double submit loses here and its ticket is
        # rolled back (one statement fewer than claiming first and recording the number after).
        if not await uow.claims.claim("intake", str(origin["n"]), str(stored.id)):
            log.info("duplicate intake submission %s ignored", origin["n"])
            return None
        # reliability (issue 8): the announcement is queued with the ticket, so accepted = announced
        await queue_announcement(deps, uow, stored, replies.person(requester))
        await uow.commit()
    logcontext.bind_ticket(stored.id)  # observability (issue 11)
    metric_hooks.ticket_opened()  # observability (issue 11): the intake rate
    log.info("ticket #%s opened by %s", stored.id, who.user_id)
    return stored.id

