"""Fault 5 of issue 8 on PostgreSQL: the server restarts while customers submit tickets.

Runs its own PostgreSQL (tests/pgserver.py: initdb into a temporary folder, a free port of
127.0.0.1), never the shared test server. Skipped, with the reason, where it cannot start.
`pytest -q -s tests/reliability/test_pg_restart.py` prints the figure line.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import exc as sa_exc

from commands import replies
from storage import db
from tests.pgserver import PgServer, PgUnavailable, private_postgres
from tests.reliability.helpers import UNLIMITED, card_counts, root_counts
from tests.wire.harness import Desk, seeded_desk
from tests.wire.workflow_helpers import FORM, action_id, all_tickets, card, events
from workflows.model import EventKind

SUBMISSIONS = 60
LANES = ("alice", "carol", "dave", "gina")
RESTART_AFTER = 20  # accepted tickets before the server goes down
TRY_AGAIN = replies.temporarily_unavailable()


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    try:
        with private_postgres() as server:
            yield server
    except PgUnavailable as exc:
        pytest.skip(f"no private PostgreSQL for the restart test: {exc}")


@pytest_asyncio.fixture
async def desk(pg: PgServer) -> AsyncIterator[Desk]:
    if not pg.is_running():  # a failed test may have left it stopped
        pg.start()
    d = await seeded_desk(pg.create_database(f"desk_{secrets.token_hex(4)}"))
    try:
        await d.start_bot(security=UNLIMITED)
        yield d
    finally:
        await d.stop_bot()
        await d.emu.stop()


@dataclass
class Tally:
    """What the customers saw: every answer is success or "try again", nothing else."""

    accepted: list[str] = field(default_factory=list)
    again: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # user, form, subject
    other: list[Any] = field(default_factory=list)
    waiting: set[str] = field(default_factory=set)  # lanes told "try again", waiting for the DB


async def _submit(desk: Desk, user: str, subject: str, tally: Tally,
                  record: dict[str, Any] | None = None) -> str:
    """Open the form (unless re-submitting `record`), submit it; "ok", "again" or "other"."""
    if record is None:
        opened = await desk.run(user, "/ticket new")
        if opened.body.get("text"):
            tally.other.append(("command", opened.status, opened.body.get("text")))
            return "other"
        record = desk.emu.store.dialogs[desk.user(user).id][-1]
    answer = await desk.emu.submit_dialog(desk.user(user), {**FORM, "subject": subject},
                                          dialog=record)
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 200 and not body:
        tally.accepted.append(subject)
        return "ok"
    if answer.status == 200 and body == {"error": TRY_AGAIN} and answer.stayed_open:
        tally.again.append((user, record, subject))
        return "again"
    tally.other.append((subject, answer.status, body))
    return "other"


async def _lane(desk: Desk, user: str, numbers: range, tally: Tally, back: asyncio.Event) -> None:
    for n in numbers:
        if await _submit(desk, user, f"PG ticket {n}", tally) == "again":
            tally.waiting.add(user)  # like a person told "try again in a minute"
            await back.wait()
            tally.waiting.discard(user)


async def _until_delivered(desk: Desk, rounds: int = 15) -> None:
    """Run the scheduled jobs (outbox delivery retries) until every ticket is announced."""
    for _ in range(rounds):
        stored = await all_tickets(desk)
        if all(t.card_post_id and t.customer_root_id for t in stored):
            return
        desk.clock.advance(minutes=1)
        await desk.run_jobs()
    raise AssertionError("tickets still unannounced after the restart")


async def test_postgres_restart_mid_traffic_loses_nothing_accepted(desk: Desk, pg: PgServer) -> None:
    setup, tally, again = Tally(), Tally(), Tally()
    assert await _submit(desk, "alice", "PG ticket before", setup) == "ok"  # to click on and
    await desk.settle()                                                     # write to in the gap
    await _until_delivered(desk)
    before = (await all_tickets(desk))[0]
    back, done_lanes, gap = asyncio.Event(), set[str](), dict[str, Any]()

    async def restart() -> None:
        await desk.wait_for(lambda: len(tally.accepted) >= RESTART_AFTER, timeout=60)
        await asyncio.to_thread(pg.stop, "fast")  # transactions in flight are cut off
        await desk.wait_for(lambda: all(u in tally.waiting or u in done_lanes for u in LANES),
                            timeout=30)  # every busy customer has been told "try again"
        gap["command"] = await desk.run("sam", "/ticket list")
        gap["command_text"] = _last_ephemeral(desk, "sam")
        gap["click"] = await desk.emu.click(desk.user("sam"), before.card_post_id,
                                            action_id(card(desk, before), "Take it"))
        gap["click_text"] = _last_ephemeral(desk, "sam")
        gap["post"] = await desk.emu.post_as(desk.user("alice"), before.customer_channel_id,
                                             "written while the database restarts",
                                             root_id=before.customer_root_id)
        await desk.wait_for(lambda: _RETRIES["posted"] >= 1, timeout=10)  # failed, will retry
        await asyncio.to_thread(pg.start)
        back.set()

    async def lane(i: int, user: str) -> None:
        await _lane(desk, user, range(i, SUBMISSIONS, len(LANES)), tally, back)
        done_lanes.add(user)

    await asyncio.gather(restart(), *(lane(i, u) for i, u in enumerate(LANES)))
    for user, record, subject in tally.again:  # the forms stayed open: Submit again
        await _submit(desk, user, subject, again, record=record)
    await desk.wait_for(lambda: not desk.bot.background.tasks, timeout=60)  # type: ignore[union-attr]
    await desk.settle()
    await _until_delivered(desk)

    async def gap_message_recorded() -> list[Any]:
        return [e for e in await events(desk, before.id) if e.kind is EventKind.CUSTOMER_MESSAGE
                and e.data.get("post_id") == gap["post"]["id"]]

    await desk.wait_for(gap_message_recorded, timeout=30)
    stored = await all_tickets(desk)
    subjects = Counter(t.form.subject for t in stored)
    lost = sum(1 for s in tally.accepted + again.accepted if subjects[s] == 0)
    cards, roots = card_counts(desk), root_counts(desk, "customer_root")
    duplicates = sum(n - 1 for c in (subjects, cards, roots) for n in c.values() if n > 1)
    relayed = sum(1 for p in desk.emu.posts(desk.support.id, root_id=before.card_post_id)
                  if "written while the database restarts" in p["message"])
    print(f"\n[fault 5, PostgreSQL] postgres restart: submissions {SUBMISSIONS}, accepted "
          f"{len(tally.accepted)}, try-again {len(tally.again)}, lost {lost}, duplicates "
          f"{duplicates}; re-submitted {len(again.accepted)}/{len(tally.again)} ok; during the "
          f"gap: /ticket list -> {gap['command_text']!r}, button -> {gap['click_text']!r}, a "
          f"customer message recorded {len(await gap_message_recorded())}x and relayed "
          f"{relayed}x after {_RETRIES['posted']} websocket retry(ies)")
    assert not (tally.other or again.other), (tally.other + again.other)[:3]
    assert tally.again and len(tally.accepted) + len(tally.again) == SUBMISSIONS
    assert len(again.accepted) == len(tally.again)  # every "try again" worked on the next Submit
    assert lost == 0 and duplicates == 0
    assert set(subjects) == {f"PG ticket {n}" for n in range(SUBMISSIONS)} | {"PG ticket before"}
    assert set(cards) == set(roots) == {t.id for t in stored}
    assert gap["command"].status == 200 and gap["command_text"] == TRY_AGAIN
    assert gap["click"].status == 200 and gap["click_text"] == TRY_AGAIN
    assert len(await gap_message_recorded()) == 1 and relayed == 1


def _last_ephemeral(desk: Desk, user: str) -> str:
    seen = desk.emu.ephemerals(desk.user(user))
    return str(seen[-1]["message"]) if seen else ""


_RETRIES: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _count_websocket_retries() -> Iterator[None]:
    """Count the websocket handler's "database unavailable ... retrying" warnings."""
    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == db.log.name and "posted event" in record.getMessage():
                _RETRIES["posted"] += 1

    handler = Counting(level=logging.WARNING)
    db.log.addHandler(handler)
    _RETRIES.clear()
    try:
        yield
    finally:
        db.log.removeHandler(handler)


# --- the classifier, without a server ---

def _wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError.instance("SELECT 1", {}, orig, Exception)


@pytest.mark.parametrize("error", [
    sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused")),
    sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    _wrapped(type("AdminShutdownError", (Exception,), {"sqlstate": "57P01"})("terminating")),
    _wrapped(type("CannotConnectNowError", (Exception,), {"sqlstate": "57P03"})("starting up")),
    _wrapped(type("SerializationError", (Exception,), {"sqlstate": "40001"})("retry")),
])
def test_connection_level_failures_count_as_unavailable(error: BaseException) -> None:
    assert db.is_unavailable(error)


@pytest.mark.parametrize("error", [
    ValueError("a bug"),
    ConnectionRefusedError(111, "Mattermost refused"),  # not the database's: no DB error in chain
    _wrapped(type("UniqueViolationError", (Exception,), {"sqlstate": "23505"})("duplicate")),
])
def test_other_failures_do_not(error: BaseException) -> None:
    assert not db.is_unavailable(error)
