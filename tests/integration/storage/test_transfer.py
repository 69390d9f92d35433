"""Export reads (storage/transfer.py, commands/transfer.py) and `supportbot export` on each backend."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot import cli, progress
from bot.config import Settings
from commands import transfer
from workflows.model import (
    EventKind, Form, Priority, Requester, Status, Ticket, TicketEvent, TicketForm,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def new_ticket(n: int, at: datetime) -> Ticket:
    form = TicketForm(Form.TECHNICAL, f"Ticket {n}", "Text", "general", Priority.NORMAL)
    return Ticket(id=None, form=form, requester=Requester("u" * 26, "alice"), status=Status.NEW,
                  created_at=at, updated_at=at)


async def seed(uow_factory, count: int, *, start: datetime = T0) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    async with uow_factory() as uow:
        for n in range(count):
            at = start + timedelta(hours=n)
            stored = await uow.tickets.add(new_ticket(n, at))
            await uow.events.add(TicketEvent(stored.id, EventKind.OPENED, at, to_value="new"))
            if n % 2:
                await uow.tickets.save(replace(stored, card_post_id=f"{n:026d}",
                                               customer_root_id=f"r{n:025d}"))
            ids.append(stored.id)
        await uow.commit()
    return ids


async def test_export_pages_through_a_period_in_number_order(uow_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(uow_factory, 23)
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=20)  # tickets 2..19
    assert await transfer.count_export(uow_factory, start, end) == 18
    records = [r async for r in transfer.export_records(uow_factory, start, end, batch=5)]
    assert [r["id"] for r in records] == ids[2:20]
    assert all([e["kind"] for e in r["events"]] == ["opened"] for r in records)


async def test_outbox_depth_counts_unannounced_tickets(uow_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(uow_factory, 5)
    async with uow_factory() as uow:
        assert await uow.transfer.count_unannounced() == 3  # tickets 0, 2, 4


async def test_export_command_streams_jsonl_with_a_progress_bar(
        uow_factory, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    await seed(uow_factory, 12)
    monkeypatch.setattr(progress, "MIN_TOTAL", 10)
    settings = Settings.model_validate({"mattermost": {"token": "t"}, "database": {"url": db_url},
                                        "config_dir": tmp_path})
    out, bar = tmp_path / "out.jsonl", io.StringIO()
    assert await cli.export(settings, "jsonl", date(2026, 3, 2), date(2026, 3, 2), out,
                            progress_stream=bar) == 0
    assert len([json.loads(line) for line in out.read_text().splitlines()]) == 12  # 10:00..21:00
    assert bar.getvalue().rstrip().endswith("12/12 100%")
