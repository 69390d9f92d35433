"""The two sides of a ticket's conversation: the customer's DM thread and the staff thread.

Public replies go out only when staff ask (Reply button, /ticket reply, the reply prefix);
everything the customer writes comes back into the staff thread, attributed, files included.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from commands import replies
from commands.deps import Deps
from commands.ports import GatewayError
from workflows.model import Ticket

log = logging.getLogger(__name__)


# security (issue 9): Mattermost refuses posts over 16383 runes, and quoting adds "> " per line,
# so a long customer message would be lost; cut what we relay, and say so.
POST_MAX = 16383
TRUNCATED = "\n\n_(cut: the message was too long to relay in full)_"


def fit_post(message: str) -> str:
    if len(message) <= POST_MAX:
        return message
    return message[: POST_MAX - len(TRUNCATED)] + TRUNCATED


@dataclass(frozen=True, slots=True)
class Thread:
    channel_id: str
    root_id: str


async def customer_threads(deps: Deps, ticket: Ticket) -> list[Thread]:
    """The requester's thread, then one per CC'd user (their DM with the bot, rooted at the notice)."""
    threads = []
    if ticket.customer_channel_id and ticket.customer_root_id:
        threads.append(Thread(ticket.customer_channel_id, ticket.customer_root_id))
    async with deps.uow() as uow:
        for user_id in ticket.form.cc_user_ids:
            where = await uow.claims.get("cc_thread", f"{ticket.id}:{user_id}")
            if where:
                channel_id, _, root_id = where.partition(":")
                threads.append(Thread(channel_id, root_id))
    return threads


async def relay_files(deps: Deps, file_ids: Sequence[str], channel_id: str) -> tuple[list[str], int]:
    """Copy files into another channel (file ids are per channel); returns new ids and skipped count."""
    new_ids: list[str] = []
    skipped = 0
    for file_id in list(file_ids)[: deps.policy.max_relay_files]:
        try:
            info = await deps.gateway.get_file_info(file_id)
            if int(info.get("size", 0)) > deps.policy.max_relay_bytes:
                skipped += 1
                continue
            data = await deps.gateway.get_file(file_id)
            new_ids.append(await deps.gateway.upload_file(channel_id, str(info.get("name", "file")), data))
        except GatewayError as exc:
            log.warning("relaying file %s failed: %s", file_id, exc)
            skipped += 1
    return new_ids, skipped + max(0, len(file_ids) - deps.policy.max_relay_files)


async def send_public_reply(
    deps: Deps, ticket: Ticket, author_name: str, body: str, file_ids: Sequence[str] = ()
) -> int:
    """Deliver a staff reply to the requester's thread and every CC thread; returns threads reached."""
    reached = 0
    for thread in await customer_threads(deps, ticket):
        files, _ = await relay_files(deps, file_ids, thread.channel_id) if file_ids else ([], 0)
        await deps.gateway.create_post(
            thread.channel_id, fit_post(replies.public_reply(ticket, author_name, body)),
            root_id=thread.root_id, file_ids=files,
            props={"supportdesk_ticket": ticket.id, "supportdesk_role": "public_reply"},
        )
        reached += 1
    return reached


async def post_to_staff_thread(
    deps: Deps, ticket: Ticket, message: str, file_ids: Sequence[str] = (), role: str = "relay"
) -> None:
    if not ticket.card_post_id:
        return
    files, skipped = await relay_files(deps, file_ids, deps.desk.support_channel_id) if file_ids else ([], 0)
    if skipped:
        message += "\n\n" + replies.files_skipped(skipped)
    await deps.gateway.create_post(
        deps.desk.support_channel_id, fit_post(message), root_id=ticket.card_post_id, file_ids=files,
        props={"supportdesk_ticket": ticket.id, "supportdesk_role": role},
    )
