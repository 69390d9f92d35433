"""Who is being served: a request id and a ticket number in context variables, for log lines.

The HTTP middleware, the job runner and the websocket worker set a request id; use cases call
`bind_ticket` once they know which ticket they work on. bot/observability.py's logging filter
copies both onto every record. Context variables follow the task, and tasks spawned from it
(the announce after a dialog) inherit them, so a background line keeps its request id.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("supportbot_request_id", default=None)
ticket_id: ContextVar[int | None] = ContextVar("supportbot_ticket_id", default=None)


def new_request_id(prefix: str = "") -> str:
    # A label for log lines, not a secret: `secrets` read the OS's entropy for every websocket
    # event and HTTP call (~2% of the intake's CPU, issue 10).
    return f"{prefix}{random.getrandbits(32):08x}"


def bind_ticket(number: int | None) -> None:
    """From here on, this task's log lines carry ticket #number."""
    if number is not None:
        ticket_id.set(number)


@contextmanager
def serving(rid: str) -> Iterator[str]:
    """A fresh request id (and no ticket yet) for one piece of work; restored afterwards."""
    rid_token, ticket_token = request_id.set(rid), ticket_id.set(None)
    try:
        yield rid
    finally:
        request_id.reset(rid_token)
        ticket_id.reset(ticket_token)
