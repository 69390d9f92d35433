"""Reliability (issue 8): counting what the emulator received, submitting many tickets fast."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bot.rest import RetryPolicy
from commands import replies
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import FORM

UNLIMITED = {"intake_per_hour": 0, "commands_per_minute": 0}
POSTS = r"^/api/v4/posts$"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_wait=2.0)


def fast_retries(desk: Desk, policy: RetryPolicy = FAST_RETRY) -> None:
    """Keep the REST retry policy's shape (429 waits Retry-After, 5xx back off) but make it quick."""
    assert desk.bot is not None
    desk.bot.gateway._rest.retry = policy


def card_counts(desk: Desk) -> Counter[int]:
    """Ticket id -> number of card posts (root posts of the bot carrying the ticket id)."""
    bot_id = desk.users["supportbot"].id
    counts: Counter[int] = Counter()
    for post in desk.emu.posts(desk.support.id):
        props = post.get("props") or {}
        if (post["user_id"] == bot_id and not post.get("root_id")
                and "supportdesk_ticket" in props
                and props.get("supportdesk_role") in (None, "card")):
            counts[int(props["supportdesk_ticket"])] += 1
    return counts


def root_counts(desk: Desk, role: str) -> Counter[int]:
    """Ticket id -> number of DM thread roots with `role` (customer_root, cc_notice) anywhere."""
    bot_id = desk.users["supportbot"].id
    counts: Counter[int] = Counter()
    for post in list(desk.emu.store.posts.values()):
        props = post.get("props") or {}
        if (post["user_id"] == bot_id and not post.get("root_id")
                and props.get("supportdesk_role") == role and not post.get("delete_at")):
            counts[int(props["supportdesk_ticket"])] += 1
    return counts


async def submit(desk: Desk, user: str, subject: str, tries: int = 3) -> Any:
    """Open the form and submit it; the dialog answer (Mattermost shows `{}` as success).

    A "try again" answer (the database was busy: nothing stored) leaves the form open, and the
    customer presses Submit again, up to `tries` times; `answer.tries` says how many it took.
    """
    await desk.run(user, "/ticket new")
    for attempt in range(1, tries + 1):
        answer = await desk.emu.submit_dialog(desk.user(user), {**FORM, "subject": subject})
        answer.tries = attempt
        body = answer.body if isinstance(answer.body, dict) else {}
        if body.get("error") != replies.temporarily_unavailable():
            break
    return answer


async def burst(desk: Desk, count: int,
                users: tuple[str, ...] = ("alice", "carol", "dave", "gina")) -> list[Any]:
    """`count` submissions spread over `users`: each user one form at a time (a dialog answers
    the form it opened), the users at the same time (like a busy morning)."""

    async def lane(user: str, numbers: range) -> list[Any]:
        return [await submit(desk, user, f"Burst ticket {n}") for n in numbers]

    lanes = await asyncio.gather(*(lane(u, range(i, count, len(users)))
                                   for i, u in enumerate(users)))
    return [answer for answers in lanes for answer in answers]
