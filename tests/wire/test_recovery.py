"""The websocket drops while customers write: every message still reaches its ticket, once."""

from __future__ import annotations

from tests.wire.harness import Desk
from tests.wire.workflow_helpers import customer_writes, events, open_ticket, staff_thread
from workflows.model import EventKind


async def test_messages_written_during_a_websocket_gap_reach_the_ticket_once(desk: Desk) -> None:
    t = await open_ticket(desk)
    await customer_writes(desk, t, "before the gap")  # the bot has now seen a post
    await desk.emu.drop_websockets()
    for n in range(3):
        await desk.emu.post_as(desk.user("alice"), t.customer_channel_id, f"during the gap {n}",
                               root_id=t.customer_root_id)

    def relayed() -> list[str]:
        return [p["message"] for p in staff_thread(desk, t) if "during the gap" in p["message"]]

    await desk.wait_for(lambda: len(relayed()) == 3, timeout=15)
    await desk.settle()
    assert len(relayed()) == 3
    messages = [e for e in await events(desk, t.id) if e.kind is EventKind.CUSTOMER_MESSAGE]
    assert len(messages) == 4  # "before the gap" + three, none twice
    assert desk.bot is not None and desk.bot._ws is not None and desk.bot._ws.reconnects >= 1


async def test_messages_written_while_the_bot_was_down_reach_the_ticket_after_a_restart(
        desk: Desk) -> None:
    """A restart (deploy, crash) starts a new websocket with no history: the bot re-reads the
    ticket threads from where it stopped (a saved cursor), once."""
    t = await open_ticket(desk)
    await customer_writes(desk, t, "before the restart")
    await desk.stop_bot()
    await desk.emu.post_as(desk.user("alice"), t.customer_channel_id, "while nobody listened",
                           root_id=t.customer_root_id)
    staff = desk.users["sam"]
    await desk.emu.post_as(staff, desk.support.id, "!reply written while the bot was down",
                           root_id=t.card_post_id)

    def seen(text: str) -> int:
        return sum(text in p["message"] for p in staff_thread(desk, t)
                   if p["user_id"] == desk.users["supportbot"].id)

    await desk.start_bot()
    await desk.wait_for(lambda: seen("while nobody listened") == 1, timeout=15)
    await desk.stop_bot()
    await desk.start_bot()  # a second restart re-reads the same posts: still once
    await desk.settle()
    assert seen("while nobody listened") == 1
    replies = [p for p in desk.emu.posts(t.customer_channel_id)
               if "written while the bot was down" in p["message"]
               and p["user_id"] == desk.users["supportbot"].id]
    assert len(replies) == 1
    kinds = [e.kind for e in await events(desk, t.id)]
    assert kinds.count(EventKind.CUSTOMER_MESSAGE) == 2 and kinds.count(EventKind.PUBLIC_REPLY) == 1
