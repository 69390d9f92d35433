"""Issue 10 storage on SQLite and PostgreSQL: the counts the triggers keep (migration 0008), the
queries that read them, and the stored SLA outcomes (storage/sla_outcomes.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text

from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import TicketRow
from storage.uow import SqlUnitOfWork
from tests.integration.storage.conftest import UowFactory
from tests.integration.storage.test_repositories import make_ticket
from workflows.model import EventKind, Priority, Status, TicketEvent
from workflows.sla import Metric
from workflows.sla_outcomes import Outcome, Verdict
from workflows.summary import day_bounds

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
H, M = timedelta(hours=1), timedelta(minutes=1)
K, S = EventKind, Status
AGENT = "a" * 26


async def truth(uow: SqlUnitOfWork) -> tuple[dict[tuple[str, str], int], int, int]:
    """Backlog, unassigned and stale-Pending counts straight from the tickets table."""
    active = ("new", "open", "pending")
    rows = await uow.session.execute(
        select(TicketRow.status, TicketRow.priority, func.count())
        .where(TicketRow.status.in_(active)).group_by(TicketRow.status, TicketRow.priority))
    unassigned = await uow.session.scalar(select(func.count()).select_from(TicketRow).where(
        TicketRow.status.in_(active), TicketRow.assignee_id.is_(None)))
    stale = await uow.session.scalar(select(func.count()).select_from(TicketRow).where(
        TicketRow.status == "pending", TicketRow.updated_at < T0))
    return {(s, p): n for s, p, n in rows}, int(unassigned or 0), int(stale or 0)


async def figures(uow: SqlUnitOfWork) -> tuple[dict[tuple[str, str], int], int, int]:
    q = uow.summary
    return await q.backlog(), (await q.unassigned(3))[0], (await q.pending_since(T0, 3))[0]


async def test_counts_follow_every_insert_update_and_delete(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        made = []
        for i, (status, priority) in enumerate([
            (S.NEW, Priority.URGENT), (S.OPEN, Priority.HIGH), (S.PENDING, Priority.LOW),
            (S.PENDING, Priority.LOW), (S.SOLVED, Priority.NORMAL), (S.NEW, Priority.URGENT),
        ]):  # fmt: skip
            t = make_ticket(priority=priority, status=status,
                            assignee_id=AGENT if i % 2 else None,
                            updated_at=T0 - (i + 1) * H if i != 3 else T0 + H)
            made.append(await uow.tickets.add(t))
        await uow.commit()
    async with uow_factory() as uow:
        assert await figures(uow) == await truth(uow)
        assert (await figures(uow))[1:] == (2, 1)

    async with uow_factory() as uow:  # move tickets between cells, and within one
        a, b, c, d, e, f = made
        await uow.tickets.save(replace(a, status=S.OPEN, assignee_id=AGENT))
        await uow.tickets.save(replace(b, form=replace(b.form, priority=Priority.URGENT)))
        await uow.tickets.save(replace(e, status=S.OPEN))  # reopened: back in the backlog
        await uow.tickets.save(replace(f, form=replace(f.form, subject="renamed")))  # no move
        await uow.session.execute(delete(TicketRow).where(TicketRow.id == c.id))
        await uow.commit()
    async with uow_factory() as uow:
        assert await figures(uow) == await truth(uow)
        assert (await figures(uow))[1:] == (1, 0)


async def test_the_oldest_unassigned_tickets_come_first_across_statuses(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        ids = []
        for i, status in enumerate([S.PENDING, S.NEW, S.OPEN, S.NEW, S.SOLVED, S.OPEN]):
            t = make_ticket(status=status, created_at=T0 - (10 - i) * H,
                            assignee_id=AGENT if i == 5 else None)
            ids.append((await uow.tickets.add(t)).id)
        await uow.commit()
    async with uow_factory() as uow:
        total, oldest = await uow.summary.unassigned(3)

    assert total == 4 and [t.id for t in oldest] == ids[:3]


async def test_event_counts_per_day_equal_counting_the_log(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        t = await uow.tickets.add(make_ticket())
        assert t.id is not None
        for k in range(60):
            at = T0 - timedelta(days=3) + k * 97 * M + k * 7 * timedelta(seconds=1)
            kind = [K.OPENED, K.STATUS_CHANGED, K.SLA_BREACHED, K.PUBLIC_REPLY][k % 4]
            values = {K.STATUS_CHANGED: ("open", "solved" if k % 3 else "pending"),
                      K.SLA_BREACHED: (None, "first_reply")}.get(kind, (None, None))
            await uow.events.add(TicketEvent(t.id, kind, at, from_value=values[0],
                                             to_value=values[1]))
        await uow.commit()
    kinds = {K.OPENED, K.STATUS_CHANGED, K.SLA_BREACHED}
    now = T0 + 17 * M + timedelta(seconds=3)  # the last day ends off the hour
    for zone in ("UTC", "Europe/Berlin", "Asia/Kolkata"):  # +5:30: no day starts on the hour
        bounds = [(a, b) for _, a, b in day_bounds(now, ZoneInfo(zone), days=5)]
        async with uow_factory() as uow:
            per_day = await uow.summary.event_counts_per_day(bounds, kinds)
            expected = [sorted(await uow.summary.event_counts(a, b, kinds)) for a, b in bounds]

        assert [sorted(rows) for rows in per_day] == expected
        assert sum(c for rows in per_day for *_, c in rows) > 0


async def test_hourly_counts_drop_deleted_events(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        t = await uow.tickets.add(make_ticket())
        assert t.id is not None
        await uow.events.add(TicketEvent(t.id, K.OPENED, T0 + M))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.session.execute(delete(TicketRow).where(TicketRow.id == t.id))  # cascades
        await uow.commit()
    async with uow_factory() as uow:
        per_day = await uow.summary.event_counts_per_day([(T0, T0 + 2 * H)], {K.OPENED})

    assert per_day == [[]]


def by_key(found: list[Outcome]) -> list[Outcome]:
    return sorted(found, key=lambda o: (o.metric.value, o.cycle_key))


def outcome(ticket_id: int, key: str = "first", **fields: object) -> Outcome:
    base = {"metric": Metric.FIRST_REPLY, "verdict": Verdict.MET, "started_at": T0,
            "ended_at": T0 + 30 * M, "replied": True, "decided_at": T0 + 30 * M}
    merged: dict[str, Any] = {**base, **fields}
    return Outcome(ticket_id=ticket_id, cycle_key=key, **merged)


async def test_outcomes_are_written_overwritten_removed_and_read_by_period(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        a = (await uow.tickets.add(make_ticket())).id
        b = (await uow.tickets.add(make_ticket())).id
        assert a is not None and b is not None
        open_wait = outcome(b, "later", metric=Metric.NEXT_REPLY, verdict=Verdict.OPEN,
                            ended_at=None, replied=False, decided_at=T0 + 5 * H)
        await uow.sla_outcomes.write([outcome(a), open_wait, outcome(b, ended_at=T0 - H,
                                                                      decided_at=T0 - H)])
        await uow.commit()
    async with uow_factory() as uow:
        answered = replace(open_wait, verdict=Verdict.MET, ended_at=T0 + 2 * H, replied=True,
                           decided_at=T0 + 2 * H)
        await uow.sla_outcomes.write([answered], [outcome(a)])
        await uow.commit()
    async with uow_factory() as uow:
        stored_b = await uow.sla_outcomes.of_ticket(b)
        in_period = await uow.sla_outcomes.in_period(T0, T0 + 3 * H)

    assert by_key(stored_b) == [outcome(b, ended_at=T0 - H, decided_at=T0 - H), answered]
    assert in_period == [answered]


async def test_tickets_active_in_a_period_without_a_first_wait_stored_are_unmeasured(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        measured = (await uow.tickets.add(make_ticket())).id
        legacy = (await uow.tickets.add(make_ticket())).id
        quiet = (await uow.tickets.add(make_ticket())).id
        assert measured is not None and legacy is not None and quiet is not None
        for t in (measured, legacy):
            await uow.events.add(TicketEvent(t, K.PUBLIC_REPLY, T0 + M))
            await uow.events.add(TicketEvent(t, K.SLA_BREACHED, T0 + 2 * M))
        await uow.events.add(TicketEvent(quiet, K.PUBLIC_REPLY, T0 - H))
        await uow.sla_outcomes.write([outcome(measured)])
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.sla_outcomes.unmeasured(
            T0, T0 + H, {K.PUBLIC_REPLY, K.STATUS_CHANGED, K.SLA_BREACHED})

    assert found == [legacy]


async def test_outcomes_go_with_their_ticket(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        t = (await uow.tickets.add(make_ticket())).id
        assert t is not None
        await uow.sla_outcomes.write([outcome(t)])
        await uow.commit()
    async with uow_factory() as uow:
        await uow.session.execute(delete(TicketRow).where(TicketRow.id == t))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sla_outcomes.of_ticket(t) == []


async def test_migration_0008_counts_the_rows_already_stored(empty_db_url: str) -> None:
    await upgrade(empty_db_url, "0007")
    engine = create_engine(empty_db_url)
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            for i, status in enumerate([S.NEW, S.OPEN, S.PENDING, S.CLOSED]):
                t = await uow.tickets.add(make_ticket(status=status,
                                                      assignee_id=None if i % 2 else AGENT,
                                                      updated_at=T0 - H))
                assert t.id is not None
                await uow.events.add(TicketEvent(t.id, K.OPENED, T0 + i * M))
            await uow.commit()
        await upgrade(empty_db_url)
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            assert await figures(uow) == await truth(uow)
            assert await uow.summary.event_counts_per_day([(T0, T0 + H)], {K.OPENED}) == [
                [("opened", None, None, 4)]]
            triggers = await uow.session.scalar(text(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'summary_%'"
                if engine.dialect.name == "postgresql" else
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'summary_%'"))
            assert triggers in (4, 5)  # PostgreSQL: insert and delete share one trigger
    finally:
        await engine.dispose()


async def test_breached_open_counts_all_and_lists_the_oldest_breaches(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        ids = []
        for i in range(4):
            t = await uow.tickets.add(make_ticket(status=S.OPEN if i != 3 else S.PENDING))
            assert t.id is not None
            ids.append(t.id)
            await uow.events.add(TicketEvent(t.id, K.SLA_BREACHED, T0 - (5 - i) * H))
        await uow.events.add(TicketEvent(ids[1], K.PUBLIC_REPLY, T0))  # answered since
        await uow.commit()
    async with uow_factory() as uow:
        total, oldest = await uow.summary.breached_open(T0 - 24 * H, 1)
        none = await uow.summary.breached_open(T0, 1)

    assert total == 2 and [(t.id, at) for t, at in oldest] == [(ids[0], T0 - 5 * H)]
    assert none == (0, [])
