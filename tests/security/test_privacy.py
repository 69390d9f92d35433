"""Privacy: a customer sees only their own (or CC'd) tickets, never internal notes, staff-only
fields or other customers' tickets; refusals don't reveal whether a ticket exists."""

from __future__ import annotations

from tests.wire.harness import Desk
from tests.wire.workflow_helpers import customer_thread, customer_writes, open_ticket, staff_writes
from workflows.permissions import NOT_FOUND_OR_NOT_YOURS

SECRET_NOTE = "internal: customer is on a legacy contract"


async def _worked_ticket(desk: Desk):  # type: ignore[no-untyped-def]
    t = await open_ticket(desk, cc="carol", subject="Export fails for Acme")
    await desk.run("sam", f"/ticket take {t.id}", "customer-support")
    await desk.run("sam", f"/ticket note {t.id} {SECRET_NOTE}", "customer-support")
    await desk.run("sam", f"/ticket hold {t.id} on", "customer-support")
    await desk.run("sam", f"/ticket reply {t.id} We are on it.", "customer-support")
    await staff_writes(desk, t, "thread note: escalate if no logs")
    return t


def _last(desk: Desk, user: str) -> str:
    return desk.emu.ephemerals(desk.user(user))[-1]["message"]


async def test_show_by_role(desk: Desk) -> None:
    t = await _worked_ticket(desk)
    for user in ("alice", "carol"):
        await desk.run(user, f"/ticket show {t.id}")
        shown = _last(desk, user)
        assert "Export fails for Acme" in shown and "replied to the customer" in shown
        for hidden in (SECRET_NOTE, "escalate if no logs", "internal note", "Plan:", "Assignee:",
                       "on hold", "do-not-close", "assigned it to"):
            assert hidden not in shown, (user, hidden)
    await desk.run("dave", f"/ticket show {t.id}")
    assert _last(desk, "dave") == NOT_FOUND_OR_NOT_YOURS
    await desk.run("sam", f"/ticket show {t.id}", "customer-support")
    staff_view = _last(desk, "sam")
    assert SECRET_NOTE in staff_view and "Plan:" in staff_view and "on hold" in staff_view


async def test_missing_and_foreign_tickets_read_the_same_to_customers(desk: Desk) -> None:
    t = await open_ticket(desk, user="gina", subject="Globex private matter")
    for ticket_id in (t.id, t.id + 1, 999999):
        await desk.run("alice", f"/ticket show {ticket_id}")
        assert _last(desk, "alice") == NOT_FOUND_OR_NOT_YOURS


async def test_list_by_role(desk: Desk) -> None:
    mine = await open_ticket(desk, cc="carol", subject="Alice problem")
    await open_ticket(desk, user="gina", subject="Globex private matter")
    await desk.run("alice", "/ticket list")
    alice_sees = _last(desk, "alice")
    assert "Alice problem" in alice_sees and "Globex" not in alice_sees
    assert "Plan" not in alice_sees and "Assignee" not in alice_sees  # staff-only columns
    await desk.run("carol", "/ticket list")
    assert "Alice problem" in _last(desk, "carol") and "Globex" not in _last(desk, "carol")
    await desk.run("dave", "/ticket list")
    assert "no open tickets" in _last(desk, "dave")
    await desk.run("dave", "/ticket list all")  # staff filters don't widen a customer's list
    assert "no open tickets" in _last(desk, "dave")
    await desk.run("sam", "/ticket list", "customer-support")
    assert "Alice problem" in _last(desk, "sam") and "Globex" in _last(desk, "sam")
    assert mine.id is not None


async def test_internal_notes_never_reach_customer_threads(desk: Desk) -> None:
    t = await _worked_ticket(desk)
    seen = "\n".join(p["message"] for p in customer_thread(desk, t))
    assert "We are on it." in seen
    assert SECRET_NOTE not in seen and "escalate if no logs" not in seen
    for user in ("alice", "carol"):  # and not in any DM with the bot
        for post in desk.emu.dm_posts(desk.user(user), desk.user("supportbot")):
            assert SECRET_NOTE not in post["message"] and "escalate" not in post["message"]


async def test_an_outsider_writing_to_the_bot_learns_nothing(desk: Desk) -> None:
    t = await open_ticket(desk, subject="Alice secret subject")
    dm = desk.emu.direct_channel_id(desk.user("dave"), desk.user("supportbot"))
    await desk.emu.post_as(desk.user("dave"), dm, f"what is ticket {t.id} about?")
    await desk.wait_for(lambda: len(desk.emu.posts(dm)) >= 2)
    await desk.settle()
    answer = desk.emu.posts(dm)[-1]["message"]
    assert "Alice" not in answer and "secret" not in answer and f"#{t.id}" not in answer


async def test_cc_message_goes_to_staff_not_to_other_customers(desk: Desk) -> None:
    t = await open_ticket(desk, cc="carol")
    other = await open_ticket(desk, user="gina")
    await customer_writes(desk, t, "carol's extra detail", user="alice")
    for p in customer_thread(desk, other):
        assert "extra detail" not in p["message"]


async def test_csat_comment_is_shown_to_staff_only(desk: Desk) -> None:
    from tests.wire.workflow_helpers import card, click

    t = await open_ticket(desk, cc="carol")
    await click(desk, "sam", card(desk, t), "Take it")
    await click(desk, "sam", card(desk, t), "Solved")
    desk.clock.advance(hours=25)
    await desk.run_jobs()
    await click(desk, "alice", customer_thread(desk, t)[-1], "Bad, I'm unsatisfied")
    await desk.emu.submit_dialog(desk.user("alice"), {"comment": "carol was rude to support"})
    await desk.settle()
    await desk.run("carol", f"/ticket show {t.id}")
    assert "rated the support bad" in _last(desk, "carol")
    assert "carol was rude" not in _last(desk, "carol")
    await desk.run("sam", f"/ticket show {t.id}", "customer-support")
    assert "carol was rude" in _last(desk, "sam")
