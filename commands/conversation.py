"""The two sides of a ticket's conversation: the customer's DM thread and the staff thread.

Public replies go out only when staff ask (Reply button, /ticket reply, the reply prefix);
everything the customer writes comes back into the staff thread, attributed, files included.
Both go through the outbox (commands/messages.py builds them), in order per ticket.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands import messages, replies
from commands.ports import UnitOfWork
from workflows.model import Ticket
from workflows.outbox import Outbound


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
