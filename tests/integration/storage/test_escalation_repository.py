"""The escalations repository, on SQLite and on PostgreSQL: one open escalation per ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.storage.conftest import UowFactory
from workflows.escalation import AlreadyEscalated, Escalation, EscalationForm, Severity, Stage
from workflows.lifecycle import open_ticket
from workflows.model import Form, Requester, TicketForm

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
FORM = EscalationForm("Index lost", "1. upgrade", "All users", Severity.CRITICAL,
                      "https://example.test/issue/1")


async def _ticket_id(uow_factory: UowFactory) -> int:
    async with uow_factory() as uow:
        ticket = await uow.tickets.add(open_ticket(
            TicketForm(Form.TECHNICAL, "Search", "Nothing found", "search"),
            Requester("a" * 26, "alice"), T0))
        await uow.commit()
    assert ticket.id is not None
    return ticket.id


def _escalation(ticket_id: int) -> Escalation:
    return Escalation(ticket_id, Stage.ESCALATED, FORM, opened_by="s" * 26, opened_at=T0,
                      updated_at=T0)


async def test_an_escalation_round_trips_and_closes(uow_factory: UowFactory) -> None:
    ticket_id = await _ticket_id(uow_factory)
    async with uow_factory() as uow:
        stored = await uow.escalations.add(_escalation(ticket_id))
        await uow.commit()
    later = T0 + timedelta(days=2)
    async with uow_factory() as uow:
        found = await uow.escalations.open_for(ticket_id, for_update=True)
        assert found == stored
        await uow.escalations.save(replace(found, stage=Stage.RELEASED, closed_at=later,
                                           updated_at=later, details={"released": "10.12.1"}))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.escalations.open_for(ticket_id) is None
        assert await uow.escalations.open_all() == []
        latest = await uow.escalations.latest_for(ticket_id)
    assert latest is not None and latest.details == {"released": "10.12.1"}
    assert latest.closed_at == later


async def test_a_second_open_escalation_of_a_ticket_is_refused(uow_factory: UowFactory) -> None:
    ticket_id = await _ticket_id(uow_factory)
    async with uow_factory() as uow:
        await uow.escalations.add(_escalation(ticket_id))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyEscalated):
            await uow.escalations.add(_escalation(ticket_id))


async def test_open_escalations_are_found_by_ticket(uow_factory: UowFactory) -> None:
    first, second = await _ticket_id(uow_factory), await _ticket_id(uow_factory)
    async with uow_factory() as uow:
        await uow.escalations.add(_escalation(first))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.escalations.open_for_tickets([first, second])
    assert list(found) == [first]
