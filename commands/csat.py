"""Customer satisfaction: ask once after Solved (or Closed), take one rating (a re-click updates it)."""

from __future__ import annotations

import logging
from datetime import timedelta

from commands import cards, conversation, dialogs, messages, outbox, replies
from commands.actions import ACTIONS
from commands.deps import Deps
from commands.models import ActionClick, ActionResult, DialogResult, DialogSubmission
from commands.ports import GatewayError
from commands.router import DIALOGS
from commands.signing import BadSignature
from workflows.model import EventKind, Ticket, TicketEvent
from workflows.outbox import ticket_lane  # reliability (issue 8)

log = logging.getLogger(__name__)

RATINGS = {"good": "Good, I'm satisfied", "bad": "Bad, I'm unsatisfied"}
COMMENT_MAX = 2000


async def ask(deps: Deps, ticket: Ticket) -> bool:
    """Queue the question for the requester's thread, once per ticket (the claim and the message
    are stored together), and deliver it."""
    assert ticket.id is not None
    if not ticket.customer_channel_id or not ticket.customer_root_id:
        return False
    buttons = [cards.button(deps, f"csat{value}", label, ticket.id,
                            "success" if value == "good" else "danger", u=ticket.requester.user_id)
               for value, label in RATINGS.items()]
    question = messages.in_channel(
        ticket.customer_channel_id, replies.csat_question(ticket), root_id=ticket.customer_root_id,
        props={"attachments": [{"text": "", "actions": buttons}], "supportdesk_role": "csat"},
        key=f"t{ticket.id}:csat", ticket_id=ticket.id)
    async with deps.uow() as uow:
        if not await uow.claims.claim("csat_asked", str(ticket.id)):
            return False
        await outbox.queue(deps, uow, question)
        await uow.commit()
    await outbox.flush(deps, [question.lane])
    return True


def _rating_button(value: str):  # type: ignore[no-untyped-def]
    async def handler(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
        if payload.get("u") != click.user_id:
            return ActionResult(ephemeral_text=replies.NOT_YOUR_BUTTON)
        ticket_id = int(payload["t"])
        await rate(deps, ticket_id, click.user_id, value, comment=None)
        state = deps.signer.sign("dialog:csat", {"u": click.user_id, "t": ticket_id, "r": value},
                                 now=deps.clock(), ttl=timedelta(days=7))
        try:
            await deps.gateway.open_dialog(click.trigger_id, deps.desk.dialog_url,
                                           dialogs.csat_comment_dialog(state, ticket_id, RATINGS[value]))
        except GatewayError as exc:
            log.info("CSAT comment dialog not opened: %s", exc)
        return ActionResult(ephemeral_text=replies.csat_thanks(RATINGS[value]))

    return handler


for _value in RATINGS:
    ACTIONS.action(f"csat{_value}")(_rating_button(_value))


async def rate(deps: Deps, ticket_id: int, user_id: str, value: str, *, comment: str | None) -> None:
    """Record the rating (and comment); the newest one counts; tell the staff thread."""
    async with deps.uow() as uow:
        ticket = await uow.tickets.get(ticket_id)
        await uow.claims.set("csat_rating", str(ticket_id), value)
        await uow.events.add(TicketEvent(ticket_id, EventKind.CSAT_RATED, deps.clock(),
                                         actor_id=user_id, to_value=value,
                                         data={"text": comment} if comment else {}))
        if ticket is not None:
            await outbox.queue(deps, uow, conversation.staff_note(
                ticket, replies.csat_staff_note(RATINGS[value], comment), role="csat",
                key=messages.unique(f"t{ticket_id}:csat-rated")))
        await uow.commit()
    if ticket is not None:
        await outbox.flush(deps, [ticket_lane(ticket_id)])


@DIALOGS.callback(dialogs.CSAT_CALLBACK)
async def submit_comment(sub: DialogSubmission, deps: Deps) -> DialogResult:
    if sub.cancelled:
        return DialogResult.ok()
    try:
        payload = deps.signer.verify("dialog:csat", sub.state, now=deps.clock())
    except BadSignature as exc:
        log.warning("refused CSAT comment from %s: %s", sub.user_id, exc)
        return DialogResult.refused(replies.STATE_REFUSED)
    if payload.get("u") != sub.user_id:
        return DialogResult.refused(replies.STATE_REFUSED)
    comment = str(sub.submission.get("comment") or "").strip()
    if len(comment) > COMMENT_MAX:
        return DialogResult.field_errors({"comment": f"Use at most {COMMENT_MAX} characters."})
    if comment:
        await rate(deps, int(payload["t"]), sub.user_id, str(payload["r"]), comment=comment)
    return DialogResult.ok()


