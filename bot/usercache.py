"""Recently read Mattermost user profiles, briefly kept.

Every intake reads its requester's profile and every card render the names it shows: the same few
people again and again. Two REST calls per ticket were a tenth of the intake's CPU (issue 10).
A profile is kept for a minute (a renamed user shows the new name within a minute) and at most
`size` of them, least recently used out first, so memory stays flat however many users write.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

TTL_S = 60.0
SIZE = 2000


class UserCache:
    def __init__(self, ttl_s: float = TTL_S, size: int = SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._size, self._clock = ttl_s, size, clock
        self._users: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def get(self, user_id: str) -> dict[str, Any] | None:
        hit = self._users.get(user_id)
        if hit is None:
            return None
        if self._clock() - hit[0] >= self._ttl:
            del self._users[user_id]
            return None
        self._users.move_to_end(user_id)
        return hit[1]

    def put(self, users: Iterable[dict[str, Any]]) -> None:
        now = self._clock()
        for user in users:
            if isinstance(user, dict) and user.get("id"):
                self._users[user["id"]] = (now, user)
                self._users.move_to_end(user["id"])
        while len(self._users) > self._size:
            self._users.popitem(last=False)

    def __len__(self) -> int:
        return len(self._users)
