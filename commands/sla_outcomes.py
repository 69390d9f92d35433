"""Keep stored SLA outcomes (sla_outcomes) in step with each ticket's log (issue 10).

Called by the ticket funnel (commands/tickets.py: change, record, intake) inside its unit of work,
next to the SLA hook, whenever events may move a reply clock. The daily summary then reads the
period's outcomes instead of re-measuring every active ticket (commands/summary/build.py).
Measured with the SLA feature's policy and the requester's zone, as the SLA check measures them.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.deps import Deps
from commands.ports import UnitOfWork
from workflows import sla_outcomes, sla_watch
from workflows.model import Ticket, TicketEvent


async def track_change(deps: Deps, uow: UnitOfWork, ticket: Ticket,
                       unsaved: Sequence[TicketEvent]) -> None:
    """After a change: re-measure the ticket when its new events can move a reply clock."""
    if sla_watch.moves_clocks(unsaved):
        await track(deps, uow, ticket, unsaved)


async def track_stored(deps: Deps, uow: UnitOfWork, tickets: Sequence[Ticket]) -> None:
    """After events were recorded (and stored) for these (locked) tickets: re-measure each."""
    for ticket in tickets:
        await track(deps, uow, ticket, ())


async def track(deps: Deps, uow: UnitOfWork, ticket: Ticket,
                unsaved: Sequence[TicketEvent] = ()) -> None:
    """Measure the ticket's first/next-reply waits from its stored log plus `unsaved`, and store
    those that changed. Without the SLA feature nothing is stored: the summary then measures
    from the log, as it always could."""
    sla = deps.sla
    if sla is None or ticket.id is None:
        return
    events = [*await uow.events.for_ticket(ticket.id), *unsaved]
    zone = await sla.zone_of(uow, deps.gateway, ticket, deps.clock())
    await _store(deps, uow, ticket, events, zone, await uow.sla_outcomes.of_ticket(ticket.id))


async def track_new(deps: Deps, uow: UnitOfWork, ticket: Ticket, events: Sequence[TicketEvent],
                    zone: str) -> None:
    """At intake: the whole log is `events`, the zone is known and nothing is stored yet."""
    if deps.sla is not None and ticket.id is not None:
        await _store(deps, uow, ticket, events, zone, stored=[])


async def _store(deps: Deps, uow: UnitOfWork, ticket: Ticket, events: Sequence[TicketEvent],
                 zone: str | None, stored: Sequence[sla_outcomes.Outcome]) -> None:
    assert deps.sla is not None
    calendar = deps.sla.calendar_for(zone)
    current = sla_outcomes.outcomes(ticket, events, deps.sla.policy, calendar, deps.clock())
    write, remove = sla_outcomes.changes(stored, current)
    if write or remove:
        await uow.sla_outcomes.write(write, remove)
