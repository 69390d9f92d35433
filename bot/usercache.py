"""Small bounded caches for what the bot reads from Mattermost again and again.

Every intake reads its requester's profile and every card render the names it shows: the same few
people again and again. Two REST calls per ticket were a tenth of the intake's CPU (issue 10).
A profile is kept for a minute (a renamed user shows the new name within a minute); DM channel
ids never change, so they are kept until pushed out. Both are bounded, least recently used out
first, so memory stays flat however many users write.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

TTL_S = 60.0
SIZE = 2000


class Recent(Generic[V]):
    """At most `size` values by key, the least recently used out first; each kept `ttl_s`
    seconds (None: until pushed out)."""

    def __init__(self, size: int, ttl_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._size, self._ttl, self._clock = size, ttl_s, clock
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if self._ttl is not None and self._clock() - hit[0] >= self._ttl:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return hit[1]

    def set(self, key: str, value: V) -> None:
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class UserCache(Recent[dict[str, Any]]):
    """User profiles by id, kept a minute."""

    def __init__(self, ttl_s: float = TTL_S, size: int = SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(size, ttl_s, clock)

    def put(self, users: Iterable[dict[str, Any]]) -> None:
        for user in users:
            if isinstance(user, dict) and user.get("id"):
                self.set(user["id"], user)
