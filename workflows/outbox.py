"""Outbound messages as data, and the delivery policy: one lane in order, retry until delivered.

Every message the desk sends (cards, DMs, replies, relays, notes, CSAT, SLA notices, pages,
summaries) is queued as an `Outbound` in the same transaction as the change that caused it, and a
delivery worker sends it later. Nothing here does I/O.

- `key` is unique: queueing the same key twice keeps one message, and the post made for it carries
  the key (prop `supportdesk_key`), so a retry after an ambiguous failure or a crash finds the post
  instead of making a second one.
- `lane` orders delivery: messages of one lane (a ticket: `t12`) go out one at a time in the order
  they were queued; different lanes go out side by side.
- `channel` and `root` may name another message of the lane as `@<key>`: the channel that message
  went to and the post it made (the card, the customer's thread root), known only once delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    POST = "post"  # create a post (in a thread when `root` is set)
    UPDATE = "update"  # edit the post `root` in place (cards)
    REACT = "react"  # add the emoji `message` to the post `root`
    WEBHOOK = "webhook"  # POST args["event"] to the on-call webhook (an external pager)


class State(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # Mattermost refused it for good (4xx): logged, and the lane moves on


REF = "@"  # channel/root "@<key>": what the message `key` of the same lane produced
DM = "dm:"  # channel "dm:<user id>": the direct channel between the bot and that user


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send. `render`/`after` name functions registered by the features:
    `render` builds message and props at delivery time (cards show the ticket as it is then),
    `after` records what the post produced (a card's post id on the ticket) when it is sent."""

    key: str
    lane: str
    action: Action = Action.POST
    channel: str = ""
    message: str = ""
    root: str = ""
    props: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # Mattermost file ids to copy into the target channel
    render: str = ""
    after: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None

    def body(self) -> dict[str, Any]:
        """What is stored besides the columns (JSON)."""
        return {"channel": self.channel, "message": self.message, "root": self.root,
                "props": dict(self.props), "files": list(self.files), "render": self.render,
                "after": self.after, "args": dict(self.args)}

    @classmethod
    def from_body(cls, *, key: str, lane: str, action: str, ticket_id: int | None,
                  body: Mapping[str, Any]) -> Outbound:
        return cls(key=key, lane=lane, action=Action(action), ticket_id=ticket_id,
                   channel=body.get("channel", ""), message=body.get("message", ""),
                   root=body.get("root", ""), props=dict(body.get("props") or {}),
                   files=tuple(body.get("files") or ()), render=body.get("render", ""),
                   after=body.get("after", ""), args=dict(body.get("args") or {}))


def ticket_lane(ticket_id: int) -> str:
    return f"t{ticket_id}"


def pager_lane(ticket_id: int) -> str:
    """A ticket's events for the external pager: in order, apart from its Mattermost messages
    (a pager that is down must not hold up the ticket's posts)."""
    return f"pd{ticket_id}"


def ref(key: str) -> str:
    """A channel/root that is what message `key` produced once it is delivered."""
    return REF + key


def referenced_key(value: str) -> str | None:
    return value[len(REF):] if value.startswith(REF) else None


# Waits before the next attempt after a retryable failure (Mattermost down, 429, 5xx, no answer):
# the first retry comes at once (a blip), then back off to every five minutes, forever: an accepted
# message is never dropped because Mattermost was away for a while.
RETRY_AFTER: tuple[timedelta, ...] = (
    timedelta(0), timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=30),
    timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=5),
)
RETRYABLE = frozenset({0, 408, 429, 500, 502, 503, 504})
# 4xx other than these fails the same way every time (a deleted channel, a post too long): dead.


def after_failure(status: int, attempts: int, now: datetime,
                  retry_after: float | None = None) -> datetime | None:
    """When to try again after a failed attempt (`attempts` made so far), or None: give up."""
    if status not in RETRYABLE:
        return None
    wait = RETRY_AFTER[min(max(attempts, 1), len(RETRY_AFTER)) - 1]
    if retry_after:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + wait


LEASE = timedelta(minutes=5)  # longer than one REST call with its retries; then presumed dead
KEEP_SENT = timedelta(days=30)  # sent messages are kept this long (duplicate keys stay caught)
