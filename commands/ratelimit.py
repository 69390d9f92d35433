"""Per-user rate limits: token buckets kept in this process's memory.

Why memory and not the database: the command limit is checked on every slash command and
button click, and a database write on that hot path (claims with time buckets) would cost more
than the work it protects; an in-memory bucket costs a dict lookup. The price:
- with N replicas behind a load balancer a user gets up to N x the configured rate, because
  each replica keeps its own buckets (set the limits per replica accordingly);
- a restart forgets the buckets (a user gets a fresh allowance).
Both are acceptable for limits whose purpose is "a customer cannot open 1,000 tickets a minute",
not billing. The intake limit is checked after the dialog state is verified, so a forged request
cannot spend someone else's allowance.

The clock is a parameter (the bot's injected clock), so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_KEYS = 50_000  # memory bound: beyond this, buckets that have refilled completely are dropped


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: datetime


@dataclass(slots=True)
class TokenBuckets:
    """`capacity` requests at once, refilled at `capacity` per `per`; capacity 0 = unlimited."""

    capacity: int
    per: timedelta
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _refilled(self, key: str, now: datetime) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            return _Bucket(float(self.capacity), now)
        elapsed = max(0.0, (now - bucket.at).total_seconds())
        rate = self.capacity / self.per.total_seconds()
        return _Bucket(min(float(self.capacity), bucket.tokens + elapsed * rate), now)

    def _wait(self, bucket: _Bucket) -> timedelta:
        rate = self.capacity / self.per.total_seconds()
        return timedelta(seconds=math.ceil((1.0 - bucket.tokens) / rate))

    def check(self, key: str, now: datetime) -> timedelta | None:
        """Would one more request pass? None if so, else how long until it would. Spends nothing."""
        if self.capacity <= 0:
            return None
        bucket = self._refilled(key, now)
        return None if bucket.tokens >= 1.0 else self._wait(bucket)

    def take(self, key: str, now: datetime) -> timedelta | None:
        """Spend one token: None when allowed, else the time to wait (nothing is spent)."""
        if self.capacity <= 0:
            return None
        bucket = self._refilled(key, now)
        if bucket.tokens < 1.0:
            self._buckets[key] = bucket
            return self._wait(bucket)
        bucket.tokens -= 1.0
        if len(self._buckets) >= MAX_KEYS and key not in self._buckets:
            self._forget_full(now)
        self._buckets[key] = bucket
        return None

    def _forget_full(self, now: datetime) -> None:
        for key in [k for k in self._buckets if self._refilled(k, now).tokens >= self.capacity]:
            del self._buckets[key]


@dataclass(slots=True)
class Limits:
    """The desk's limits ([security] in bot.toml): commands/clicks per minute, tickets per hour."""

    commands: TokenBuckets
    intake: TokenBuckets

    @classmethod
    def from_rates(cls, *, commands_per_minute: int, intake_per_hour: int) -> Limits:
        return cls(commands=TokenBuckets(commands_per_minute, timedelta(minutes=1)),
                   intake=TokenBuckets(intake_per_hour, timedelta(hours=1)))


def wait_text(wait: timedelta) -> str:
    """"45 s", "12 min": how long the user should wait, rounded up."""
    seconds = max(1, int(wait.total_seconds()))
    return f"{seconds} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"


def too_many_commands(wait: timedelta) -> str:
    return (f"You're sending commands faster than the support desk accepts. "
            f"Please wait {wait_text(wait)} and try again.")


def too_many_tickets(per_hour: int, wait: timedelta) -> str:
    return (f"You have opened {per_hour} tickets in a short time, the most the desk accepts. "
            f"You can open another in {wait_text(wait)}; meanwhile, add to an open ticket by "
            "replying in its thread.")
