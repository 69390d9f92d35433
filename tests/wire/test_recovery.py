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
