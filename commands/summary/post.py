"""Posting a summary (with its chart), and the scheduled jobs: once per slot, late if it must.

A slot's claim and its message are stored in ONE transaction (issue 8): the summary is built
first, then the claim, the `last-slot` mark and the outbox message (lane `summary`, key per slot)
are committed together and delivered after. A crash or a Mattermost outage anywhere neither
skips the slot nor posts it twice; the chart PNG travels in the message and is uploaded into the
standup channel when the post is made (commands/outbox.py carried uploads).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from commands import messages, outbox
from commands.deps import Deps
from commands.ports import GatewayError
from commands.summary import replies
from commands.summary.build import build, policy_of
from commands.summary.chart import render_apart
from workflows import summary as plan
from workflows.outbox import Outbound
from workflows.rota import Level, handovers

log = logging.getLogger(__name__)

CLAIMS = "summary"  # claims kind: slot keys, plus the bookkeeping keys below
FIRST_SEEN = (
    "first-seen"  # when this desk first ran the summary job: older slots were never missed
)
LAST_SLOT = "last-slot"  # the slot of the last summary posted: the next one starts there
MAX_PERIOD = timedelta(days=14)
LANE = "summary"  # outbox lane: summaries and digests reach the standup channel in order


def message_key(slot_key: str) -> str:
    """The outbox key of a slot's post (a daily slot or a hand-over digest)."""
    return f"standup:{slot_key}"


async def summary_message(deps: Deps, data: plan.SummaryData, *, key: str) -> Outbound:
    """The summary for ~Support Standup as an outbox message, its chart carried along."""
    policy = policy_of(deps)
    text = plan.render_fitted(data, policy.permalink, top_n=policy.top_n)
    args = {}
    if data.days and (png := await render_apart(data.days)) is not None:
        args[outbox.UPLOAD] = [outbox.carry(replies.CHART_NAME, png)]
    return Outbound(key, LANE, channel="standup", message=text, args=args,
                    props={"supportdesk_role": "summary"})


async def publish(deps: Deps, data: plan.SummaryData) -> str:
    """Queue a summary (on demand) for ~Support Standup and deliver it; return the post id
    ('' while Mattermost is away: the outbox job posts it later)."""
    message = await summary_message(deps, data, key=messages.unique("standup:on-demand"))
    async with deps.uow() as uow:
        await outbox.queue(deps, uow, message)
        await uow.commit()
    await outbox.flush(deps, [LANE])
    async with deps.uow() as uow:
        produced = await uow.outbox.produced(message.key)
    return produced.post_id if produced else ""


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
    """Build the slot's summary, then claim the slot and queue the post together; deliver.
    A failure while building claims nothing, so the next run tries again."""
    async with deps.uow() as uow:
        if await uow.claims.get(CLAIMS, key) is not None:
            return 0  # posted (or queued) already: don't build it for nothing
        last = await uow.claims.get(CLAIMS, LAST_SLOT)
    if start is None:
        start = period_start(deps, at, last)
    data = await build(deps, start, at, title=title, late=late)
    message = await summary_message(deps, data, key=message_key(key))
    async with deps.uow() as uow:
        if not await uow.claims.claim(CLAIMS, key, deps.clock().astimezone(UTC).isoformat()):
            return 0  # another replica got there while we were building
        if title == replies.DAILY_TITLE:
            await uow.claims.set(CLAIMS, LAST_SLOT, at.astimezone(UTC).isoformat())
        await outbox.queue(deps, uow, message)
        await uow.commit()
    log.info("queued %s for slot %s%s", title, key, " (late)" if late else "")
    await outbox.flush(deps, [LANE])
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
        except GatewayError as exc:  # building read names from Mattermost: nothing claimed
            log.warning("hand-over digest %s failed: %s", key, exc)
    return posted
