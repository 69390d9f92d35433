"""The scripted support day of the kill -9 test (issue 8, fault 3), and where the kills land.

Pure and seeded: the same seed gives the same day, so the run with kills and the run without
them do exactly the same things. Ticket numbers are known in advance (submissions are one at a
time, so the n-th submission is ticket n).

The day: 48 steps of 30 minutes from a Monday 10:00 UTC, then the jobs once more at 24 h. Each
step moves the clock, runs the jobs, then does its actions, in that order: a restart during the
actions runs the jobs again at the same instant, and then nothing is due that the step's jobs
did not already do, except the page of a ticket submitted in this step (one step earlier than
without kills: see `PAGE_CHAIN_STEPS`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

CUSTOMERS = ("alice", "carol", "dave", "gina")
PREMIUM = ("alice", "carol")  # Acme Corp (premium), by e-mail domain
STAFF = ("sam", "tess")
STEP = timedelta(minutes=30)
STEPS = 48  # 24 h
SUBMIT_STEPS = 30  # tickets come in during the first 15 h
# A paged ticket is left alone until its page chain (primary, secondary, lead, channel: one
# level per jobs run) has run out in both runs: a restart right after its submission pages it
# one step earlier than the run without kills, and a staff answer in between would cut the
# chains at different levels.
PAGE_CHAIN_STEPS = 6
# Auto-close comes `solved_close_after` (6 h = 12 steps) after Solved; customers write sooner.
SOLVED_CLOSE_AFTER = "6h"
CSAT_SEND_AFTER = "2h"


def day_start(now: datetime) -> datetime:
    """A Monday 10:00 UTC six to thirteen days ahead of `now` (the emulator's clock follows the
    script, and Mattermost never sees time go backwards)."""
    start = (now + timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
    return start + timedelta(days=(7 - start.weekday()) % 7)


@dataclass(frozen=True, slots=True)
class Act:
    """One thing a person (or the scheduler) does. `ticket` is the ticket number."""

    kind: str  # submit | take | staff_reply | customer | status | jobs
    step: int
    user: str = ""
    ticket: int = 0
    text: str = ""
    priority: str = ""
    index: int = -1  # position in the whole day

    def __str__(self) -> str:
        what = {"submit": f"#{self.ticket} {self.priority}", "jobs": "",
                "status": f"#{self.ticket} {self.text}"}.get(self.kind, f"#{self.ticket}")
        return f"[{self.index}] step {self.step} {self.kind} {self.user} {what}".strip()


@dataclass(frozen=True, slots=True)
class Kill:
    """Kill -9 at action `index`: `before` it starts (it happens while the bot is down) or
    `during` it, `fraction` of the way through (measured on the run without kills)."""

    index: int
    mode: str  # before | during
    fraction: float = 0.0


@dataclass
class Day:
    acts: list[Act]
    paged: set[int] = field(default_factory=set)  # ticket numbers that page the on-call

    def by_kind(self, *kinds: str) -> list[Act]:
        return [a for a in self.acts if a.kind in kinds]


def build_day(seed: int, tickets: int = 30, paged: int = 6) -> Day:
    rng = random.Random(seed)
    steps: list[list[Act]] = [[] for _ in range(STEPS)]
    submits = sorted(rng.randrange(SUBMIT_STEPS) for _ in range(tickets))
    paged_ids = set(rng.sample(range(1, tickets + 1), paged))
    for number, step in enumerate(submits, start=1):
        if number in paged_ids:
            user, priority = rng.choice(PREMIUM), rng.choice(("urgent", "high"))
        else:
            user = rng.choice(CUSTOMERS)
            low = user in PREMIUM  # a premium urgent/high ticket would page: keep the count known
            priority = rng.choice(("normal", "low") if low else ("urgent", "high", "normal",
                                                                 "low"))
        steps[step].append(Act("submit", step, user, number, f"Kill9 ticket {number}", priority))
        first = step + (PAGE_CHAIN_STEPS if number in paged_ids else 1) + rng.randint(0, 2)
        for act in _story(rng, number, user, first):
            if act.step < STEPS:
                steps[act.step].append(act)
    acts: list[Act] = []
    for step, todo in enumerate(steps):
        acts.append(Act("jobs", step))
        submissions = [a for a in todo if a.kind == "submit"]
        others = [a for a in todo if a.kind != "submit"]
        rng.shuffle(others)
        places = sorted(rng.randint(0, len(others)) for _ in submissions)
        for sub, place in reversed(list(zip(submissions, places))):  # in ticket order
            others.insert(place, sub)
        acts.extend(others)
    acts.append(Act("jobs", STEPS))  # the end of the day: 24 h after the start
    return Day([replace(a, index=i) for i, a in enumerate(acts)], paged_ids)


def _story(rng: random.Random, number: int, customer: str, step: int) -> list[Act]:
    """What happens to one ticket after it is opened: one action per step at most."""
    staff = rng.choice(STAFF)
    acts: list[Act] = []
    n = 0

    def add(kind: str, user: str, text: str = "") -> None:
        nonlocal step, n
        n += 1
        acts.append(Act(kind, step, user, number, text or f"k9-{number}-{n} {kind} from {user}"))
        step += rng.randint(1, 3)

    taken = rng.random() < 0.85  # the others stay New and unassigned all day
    if taken:
        add("take", staff)
    if rng.random() < 0.85:
        add("staff_reply", staff)
    if rng.random() < 0.7:
        add("customer", customer)
        if rng.random() < 0.6:
            add("staff_reply", staff)
    roll = rng.random() if taken else 1.0
    if roll < 0.6:
        add("status", staff, "solved")
        if rng.random() < 0.3:  # the customer writes back before auto-close: reopened
            add("customer", customer)
            add("staff_reply", staff)
            add("status", staff, "solved")
    elif roll < 0.8:
        add("status", staff, "pending")
        if rng.random() < 0.5:
            add("customer", customer)
    return acts


def plan_kills(day: Day, seed: int, count: int = 20) -> list[Kill]:
    """`count` kills: about a third each during submissions, messages and job runs. The first
    two message kills come before the message (written while the bot is down: the gap)."""
    rng = random.Random(seed * 7919 + 1)
    pools = {
        "submit": day.by_kind("submit"),
        "message": day.by_kind("staff_reply", "customer"),
        "status": day.by_kind("status", "take"),
        "jobs": [a for a in day.by_kind("jobs") if a.step > 0],
    }
    shares = {"submit": count * 7 // 20, "message": count * 5 // 20, "status": count * 2 // 20}
    shares["jobs"] = count - sum(shares.values())
    kills = []
    for pool, acts in pools.items():
        for n, act in enumerate(rng.sample(acts, min(shares[pool], len(acts)))):
            if pool == "jobs":
                before = False
            elif pool == "message":
                before = n < 2 or rng.random() < 0.4
            else:
                before = rng.random() < 0.35
            kills.append(Kill(act.index, "before" if before else "during", rng.random()))
    return sorted(kills, key=lambda k: k.index)


def start_clock() -> datetime:
    return day_start(datetime.now(UTC))
