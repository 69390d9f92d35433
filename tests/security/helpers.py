"""What "nothing changed" means, measured on the emulator and the bot's database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.wire.harness import Desk
from tests.wire.workflow_helpers import all_tickets, events


@dataclass(frozen=True)
class Snapshot:
    tickets: tuple[Any, ...]
    events: int
    posts: int
    dialogs: int


async def snapshot(desk: Desk) -> Snapshot:
    await desk.settle()
    found = await all_tickets(desk)
    count = 0
    for t in found:
        count += len(await events(desk, t.id))
    store = desk.emu.store
    return Snapshot(tuple(found), count, len(store.posts),
                    sum(len(v) for v in store.dialogs.values()))


async def assert_unchanged(desk: Desk, before: Snapshot) -> None:
    after = await snapshot(desk)
    assert after.tickets == before.tickets, "a ticket was stored or changed"
    assert after.events == before.events, "an event was recorded"
    assert after.posts == before.posts, "something was posted"
    assert after.dialogs == before.dialogs, "a dialog was opened"


def sign(desk: Desk, purpose: str, payload: dict[str, Any], **ttl: float) -> str:
    from datetime import timedelta

    assert desk.bot is not None and desk.bot.deps is not None
    return desk.bot.deps.signer.sign(purpose, payload, now=desk.clock(),
                                     ttl=timedelta(**(ttl or {"hours": 1})))
