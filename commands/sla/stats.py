"""`/ticket stats [period]`: reply times, SLA attainment, CSAT for staff. A query + pure formatter."""

from __future__ import annotations

from commands.deps import Deps
from commands.models import Reply, SlashCommand
from commands.replies import person
from commands.router import TICKET
from commands.sla import replies
from workflows.model import Ticket
from workflows.permissions import Permission, allowed
from workflows.sla_period import LOOKBACK, Period, PeriodStats, parse_period, period_stats


@TICKET.subcommand("stats", usage="stats [7d|24h|today|week|month]",
                   summary="reply times, SLA attainment and CSAT for a period", staff_only=True)
async def stats(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    roles = await deps.directory.roles(cmd.user_id, None)
    if not allowed(roles, Permission.VIEW_STATS):
        return Reply.ephemeral(replies.STATS_STAFF_ONLY)
    try:
        period = parse_period(args[0] if args else "", deps.clock())
    except ValueError:
        return Reply.ephemeral(replies.STATS_USAGE)
    figures = await collect(deps, period)
    ids = sorted(g.key for g in figures.by_agent if g.key)
    users = await deps.gateway.get_users_by_ids(ids) if ids else []
    return Reply.ephemeral(replies.stats_report(figures, {u["id"]: person(u) for u in users}))


async def collect(deps: Deps, period: Period) -> PeriodStats:
    """Read the tickets active in (or just before) the period, then compute its figures."""
    sla = deps.sla
    async with deps.uow() as uow:
        ids = await uow.sla.touched_between(period.start - LOOKBACK, period.end)
        found = await uow.sla.tickets(ids)
        logs = await uow.sla.events(ids)
        zones = await uow.sla.zones(ids)

    def calendar_of(t: Ticket):  # type: ignore[no-untyped-def]
        return sla.calendar_for(zones.get(t.id or 0))

    return period_stats(found, logs, sla.policy, calendar_of, period)
