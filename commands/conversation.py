"""The two sides of a ticket's conversation: the customer's DM thread and the staff thread.

Public replies go out only when staff ask (Reply button, /ticket reply, the reply prefix);
everything the customer writes comes back into the staff thread, attributed, files included.
Both go through the outbox (commands/messages.py builds them), in order per ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from commands import messages, outbox, replies
from commands.deps import Deps
from commands.outbox import fit as fit_post  # noqa: F401  (kept for callers of the old name)
from commands.ports import UnitOfWork
from workflows.model import Ticket
from workflows.outbox import Outbound, ticket_lane

log = logging.getLogger(__name__)


async def public_reply(uow: UnitOfWork, ticket: Ticket, author_name: str, body: str, *,
                       key: str, file_ids: Sequence[str] = ()) -> list[Outbound]:
    """A staff reply for the requester's thread and every CC thread (queue it with its event)."""
    return await messages.to_customer_threads(
        uow, ticket, replies.public_reply(ticket, author_name, body), role="public_reply",
        key=key, files=file_ids)


def staff_note(ticket: Ticket, message: str, *, role: str, key: str,
               file_ids: Sequence[str] = ()) -> Outbound:
    """A post in the staff thread (queue it with what caused it)."""
    return messages.to_staff_thread(ticket, message, role=role, key=key, files=file_ids)


async def send_public_reply(
    deps: Deps, ticket: Ticket, author_name: str, body: str, file_ids: Sequence[str] = ()
) -> int:
    """Queue and deliver a staff reply to every customer thread; returns the threads reached."""
    assert ticket.id is not None
    async with deps.uow() as uow:
        queued = await public_reply(uow, ticket, author_name, body, file_ids=file_ids,
                                    key=messages.unique(f"t{ticket.id}:reply"))
        await outbox.queue(deps, uow, *queued)
        await uow.commit()
    await outbox.flush(deps, [ticket_lane(ticket.id)])
    return len(queued)


async def post_to_staff_thread(
    deps: Deps, ticket: Ticket, message: str, file_ids: Sequence[str] = (), role: str = "relay",
    *, key: str | None = None,
) -> None:
    """Queue and deliver one staff-thread post (its own transaction; prefer `staff_note` inside
    the change that caused it)."""
    assert ticket.id is not None
    note = staff_note(ticket, message, role=role, file_ids=file_ids,
                      key=key or messages.unique(f"t{ticket.id}:{role}"))
    async with deps.uow() as uow:
        await outbox.queue(deps, uow, note)
        await uow.commit()
    await outbox.flush(deps, [ticket_lane(ticket.id)])
