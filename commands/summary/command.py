"""`/ticket summary [post] [period]`: staff see it ephemerally; admins post it to the standup."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from commands.deps import Deps
from commands.models import Reply, SlashCommand
from commands.ports import GatewayError
from commands.router import TICKET
from commands.summary import replies
from commands.summary.build import build, policy_of
from commands.summary.post import CLAIMS, LAST_SLOT, period_start, publish
from workflows import summary as plan
from workflows.permissions import Permission, allowed
from workflows.text import parse_duration

log = logging.getLogger(__name__)

MAX_DAYS = 90
QUICK_ANSWER = 2.0  # seconds


@TICKET.subcommand(
    "summary",
    usage="summary [post] [period]",
    summary="the daily summary now (e.g. `summary 7d`); `post` sends it to the standup channel",
    staff_only=True,
)
async def summary(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    words = [a.lower() for a in args]
    post = "post" in words
    rest = [w for w in words if w != "post"]
    roles = await deps.directory.roles(cmd.user_id, None)
    if post and not allowed(roles, Permission.POST_SUMMARY):
        return Reply.ephemeral(_why(Permission.POST_SUMMARY))
    if not post and not allowed(roles, Permission.VIEW_STATS):
        return Reply.ephemeral(_why(Permission.VIEW_STATS))
    now = deps.clock()
    if len(rest) > 1:
        return Reply.ephemeral(replies.USAGE)
    if rest:
        try:
            period = parse_duration(rest[0])
        except ValueError:
            return Reply.ephemeral(replies.USAGE)
        if period > timedelta(days=MAX_DAYS):
            return Reply.ephemeral(replies.PERIOD_TOO_LONG.format(days=MAX_DAYS))
        start = now - period
    else:
        async with deps.uow() as uow:
            last = await uow.claims.get(CLAIMS, LAST_SLOT)
        start = period_start(deps, now, last)
    if post:
        deps.background.spawn(_post(deps, start), name="summary-post")
        return Reply.ephemeral(replies.POST_STARTED)
    # Mattermost waits ~3 s for the answer: the period metrics (reply cycles of every ticket
    # active in the period) are dropped if they would make it late.
    note = replies.NO_CHART_EPHEMERAL
    try:
        data = await asyncio.wait_for(
            build(deps, start, now, title=replies.ON_DEMAND_TITLE, chart=False), QUICK_ANSWER
        )
    except TimeoutError:
        data = await build(
            deps, start, now, title=replies.ON_DEMAND_TITLE, chart=False, metrics=False
        )
        note += "\n" + replies.METRICS_SKIPPED
    policy = policy_of(deps)
    # an ephemeral slash-command answer carries no file: the chart comes with posted summaries
    return Reply.ephemeral(
        plan.render_fitted(data, policy.permalink, top_n=policy.top_n, limit=plan.SAFE_LIMIT - 300)
        + "\n\n"
        + note
    )


async def _post(deps: Deps, start) -> None:  # type: ignore[no-untyped-def]
    now = deps.clock()
    try:
        await publish(deps, await build(deps, start, now, title=replies.ON_DEMAND_TITLE))
    except GatewayError as exc:
        log.warning("on-demand summary failed: %s", exc)


def _why(permission: Permission) -> str:
    from workflows.permissions import NotPermitted

    return NotPermitted(permission).explain()
