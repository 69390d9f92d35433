"""Rate limits ([security] intake_per_hour, commands_per_minute) and relay caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commands.ratelimit import TokenBuckets
from tests.security.helpers import assert_unchanged, snapshot
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import FORM, all_tickets, customer_writes, open_ticket, staff_thread

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def test_bucket_allows_a_burst_then_refills_over_time() -> None:
    bucket = TokenBuckets(3, timedelta(minutes=1))
    assert [bucket.take("u", T0) for _ in range(3)] == [None, None, None]
    wait = bucket.take("u", T0)
    assert wait == timedelta(seconds=20)
    assert bucket.take("other", T0) is None  # per user
    assert bucket.take("u", T0 + timedelta(seconds=20)) is None
    assert bucket.check("u", T0 + timedelta(seconds=20)) is not None  # check spends nothing...
    assert bucket.check("u", T0 + timedelta(seconds=40)) is None
    assert bucket.check("u", T0 + timedelta(seconds=40)) is None  # ...twice


def test_zero_capacity_means_unlimited() -> None:
    bucket = TokenBuckets(0, timedelta(minutes=1))
    assert all(bucket.take("u", T0) is None for _ in range(1000))


async def test_intake_limit_refuses_with_a_clear_message_and_stores_nothing(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot(security={"intake_per_hour": 2, "commands_per_minute": 0})
    await open_ticket(desk)
    await open_ticket(desk)
    # a third form: the command itself says so, before the customer fills anything in
    before = await snapshot(desk)
    await desk.run("alice", "/ticket new")
    said = desk.emu.ephemerals(desk.user("alice"))[-1]["message"]
    assert "You have opened 2 tickets" in said and "30 min" in said
    await assert_unchanged(desk, before)
    # a form opened earlier and submitted now is refused too, and stores nothing
    state_dialog = desk.emu.last_dialog(desk.user("alice"))
    result = await desk.emu.submit_dialog(desk.user("alice"), FORM, dialog=state_dialog)
    assert "You have opened 2 tickets" in result.body["error"]
    await assert_unchanged(desk, before)
    # other customers are not affected; time refills the allowance
    await open_ticket(desk, user="gina")
    desk.clock.advance(minutes=31)
    await open_ticket(desk)
    assert len(await all_tickets(desk)) == 4


async def test_command_limit_answers_ephemerally_and_changes_nothing(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot(security={"commands_per_minute": 3, "intake_per_hour": 0})
    for _ in range(3):
        await desk.run("dave", "/ticket list")
    before = await snapshot(desk)
    result = await desk.run("dave", "/ticket new")
    assert result.status == 200
    said = desk.emu.ephemerals(desk.user("dave"))[-1]["message"]
    assert "faster than the support desk accepts" in said
    await assert_unchanged(desk, before)  # no dialog opened
    await desk.run("sam", "/ticket list", "customer-support")  # per user
    assert "Queue" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    desk.clock.advance(seconds=20)
    await desk.run("dave", "/ticket list")
    assert "no open tickets" in desk.emu.ephemerals(desk.user("dave"))[-1]["message"]


async def test_clicks_share_the_command_allowance(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot(security={"commands_per_minute": 2, "intake_per_hour": 0})
    t = await open_ticket(desk)  # alice's command and submission are not sam's
    from tests.wire.workflow_helpers import card, click, ticket

    await desk.run("sam", "/ticket list", "customer-support")
    await desk.run("sam", "/ticket list", "customer-support")
    await click(desk, "sam", card(desk, t), "Take it")
    assert "faster than" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    assert (await ticket(desk, t.id)).assignee_id is None


async def test_relay_caps_come_from_config(bare_desk: Desk) -> None:
    desk = bare_desk
    await desk.start_bot(security={"relay_max_files": 2, "relay_max_mb": 1,
                                   "intake_per_hour": 0, "commands_per_minute": 0})
    assert desk.bot is not None and desk.bot.deps is not None
    assert desk.bot.deps.policy.max_relay_files == 2
    assert desk.bot.deps.policy.max_relay_bytes == 1024 * 1024
    t = await open_ticket(desk)
    alice = desk.user("alice")
    files = [await desk.emu.upload_as(alice, t.customer_channel_id, f"f{i}.txt", b"x" * 10)
             for i in range(3)]
    files.append(await desk.emu.upload_as(alice, t.customer_channel_id, "big.bin",
                                          b"0" * (1024 * 1024 + 1)))
    await customer_writes(desk, t, "four files", file_ids=tuple(files))
    relayed = staff_thread(desk, t)[-1]
    assert len(relayed["file_ids"]) == 2
    assert "2 file(s) were not relayed" in relayed["message"]
