"""Metric hooks: use cases call these when something countable happens. No-op by default.

bot/metrics.py binds them to Prometheus counters at start-up, so commands/ never imports
prometheus_client. After a commit that wrote events, call `events_recorded(events)`; it fires

    ticket_opened()   for an OPENED event from intake (imports are not intake)
    sla_breached()    for an SLA_BREACHED event
    paged()           for a PAGED event
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from workflows.model import EventKind, TicketEvent

log = logging.getLogger(__name__)

Hook = Callable[[], None]
HOOK_NAMES = ("ticket_opened", "sla_breached", "paged")
_hooks: dict[str, Hook] = {}


def bind(**hooks: Hook) -> None:
    """Install callbacks by name (unknown names are a programming error)."""
    unknown = set(hooks) - set(HOOK_NAMES)
    if unknown:
        raise ValueError(f"unknown metric hooks: {sorted(unknown)}")
    _hooks.update(hooks)


def reset() -> None:
    """Back to no-ops (a stopped bot; tests)."""
    _hooks.clear()


def _fire(name: str) -> None:
    hook = _hooks.get(name)
    if hook is None:
        return
    try:
        hook()
    except Exception:  # a metric must never break the work it counts
        log.exception("metric hook %s failed", name)


def ticket_opened() -> None:
    _fire("ticket_opened")


def sla_breached() -> None:
    _fire("sla_breached")


def paged() -> None:
    _fire("paged")


def events_recorded(events: Iterable[TicketEvent]) -> None:
    """Call after the commit that wrote `events`: fires the hook each countable kind has."""
    for event in events:
        if event.kind is EventKind.SLA_BREACHED:
            sla_breached()
        elif event.kind is EventKind.PAGED:
            paged()
        elif event.kind is EventKind.OPENED and "imported_from" not in event.data:
            ticket_opened()
