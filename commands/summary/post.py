"""Posting a summary (with its chart), and the scheduled jobs: once per slot, late if it must."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from commands.deps import Deps
from commands.ports import GatewayError
from commands.summary import replies
from commands.summary.build import build, policy_of
from commands.summary.chart import render_png
from workflows import summary as plan
from workflows.rota import Level, handovers

log = logging.getLogger(__name__)

CLAIMS = "summary"  # claims kind: slot keys, plus the bookkeeping keys below
FIRST_SEEN = (
    "first-seen"  # when this desk first ran the summary job: older slots were never missed
)
LAST_SLOT = "last-slot"  # the slot of the last summary posted: the next one starts there
MAX_PERIOD = timedelta(days=14)


async def publish(deps: Deps, data: plan.SummaryData) -> str:
    """Post a summary with its chart to ~Support Standup; return the post id."""
    policy = policy_of(deps)
    message = plan.render_fitted(data, policy.permalink, top_n=policy.top_n)
    channel = deps.desk.standup_channel_id
    file_ids: list[str] = []
    if data.days:
        png = await asyncio.to_thread(render_png, data.days)
        file_ids.append(await deps.gateway.upload_file(channel, replies.CHART_NAME, png))
    post = await deps.gateway.create_post(channel, message, file_ids=file_ids)
    return str(post.get("id", ""))


async def post_scheduled(deps: Deps, now: datetime) -> int:
    """The cron job and the catch-up check: post the due slot unless a replica already did."""
    policy = policy_of(deps)
    posted = 0
    first_seen = await _first_seen(deps, now)
    slot = plan.due_slot(policy.schedule, now, grace=policy.late_grace, not_before=first_seen)
    if slot is not None:
        posted += await _post_slot(deps, slot.key, slot.at, slot.late, replies.DAILY_TITLE)
    if policy.handover_digests:
        posted += await post_handovers(deps, now, first_seen)
    return posted


async def _first_seen(deps: Deps, now: datetime) -> datetime:
    """When the desk first ran this job (recorded once, cluster-wide)."""
    async with deps.uow() as uow:
        value = await uow.claims.get(CLAIMS, FIRST_SEEN)
        if value is None:
            if await uow.claims.claim(CLAIMS, FIRST_SEEN, now.astimezone(UTC).isoformat()):
                await uow.commit()
                return now
            value = await uow.claims.get(CLAIMS, FIRST_SEEN)
    return datetime.fromisoformat(value) if value else now


async def _post_slot(
    deps: Deps, key: str, at: datetime, late: bool, title: str, start: datetime | None = None
) -> int:
    """Claim the slot, build and post; a failure releases the claim so the next run retries."""
    async with deps.uow() as uow:
        if not await uow.claims.claim(CLAIMS, key, deps.clock().astimezone(UTC).isoformat()):
            return 0
        last = await uow.claims.get(CLAIMS, LAST_SLOT)
        await uow.commit()
    try:
        if start is None:
            start = period_start(deps, at, last)
        data = await build(deps, start, at, title=title, late=late)
        await publish(deps, data)
    except Exception:
        async with deps.uow() as uow:
            await uow.claims.release(CLAIMS, key)
            await uow.commit()
        raise
    async with deps.uow() as uow:
        if title == replies.DAILY_TITLE:
            await uow.claims.set(CLAIMS, LAST_SLOT, at.astimezone(UTC).isoformat())
        await uow.commit()
    log.info("posted %s for slot %s%s", title, key, " (late)" if late else "")
    return 1


def period_start(deps: Deps, at: datetime, last: str | None) -> datetime:
    """Since the previous summary: the last posted slot, else the schedule's previous slot."""
    start = datetime.fromisoformat(last) if last else None
    if start is None or start >= at:
        start = plan.previous_slot(policy_of(deps).schedule, at) or at - timedelta(days=1)
    return max(start, at - MAX_PERIOD)


async def post_handovers(deps: Deps, now: datetime, first_seen: datetime) -> int:
    """One digest per region at its primary hand-over, covering the previous region's shift."""
    policy = policy_of(deps)
    if policy.rota is None or not policy.rota.regions:
        return 0  # hook: no on-call rota configured ([oncall] regions, issue 5)
    window = max(policy.late_grace, timedelta(days=1))
    changes = [
        h
        for h in handovers(
            policy.rota,
            (),
            now - window - timedelta(days=1),
            (window + timedelta(days=1)) / timedelta(days=1),
        )
        if h.level is Level.PRIMARY and h.at <= now
    ]
    posted = 0
    for previous, change in zip(changes, changes[1:], strict=False):
        if now - change.at > policy.late_grace or change.at < first_seen or change.region is None:
            continue
        key = f"handover:{change.region}:{change.at.astimezone(UTC).isoformat(timespec='minutes')}"
        late = now - change.at > plan.ON_TIME
        try:
            posted += await _post_slot(
                deps,
                key,
                change.at,
                late,
                replies.handover_title(change.region),
                start=previous.at,
            )
        except GatewayError as exc:
            log.warning("hand-over digest %s failed: %s", key, exc)
    return posted
