"""Metric hooks (commands/metrics.py) and the log context filter (issue 11)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.observability import ContextFilter
from commands import logcontext
from commands import metrics
from workflows.model import EventKind, TicketEvent

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def counted() -> Iterator[list[str]]:
    calls: list[str] = []
    metrics.bind(**{name: (lambda n=name: calls.append(n)) for name in metrics.HOOK_NAMES})
    yield calls
    metrics.reset()


def test_hooks_are_no_ops_until_bound() -> None:
    metrics.reset()
    metrics.events_recorded([TicketEvent(1, EventKind.PAGED, T0)])  # nothing to call, no error


def test_events_fire_the_hook_of_their_kind(counted: list[str]) -> None:
    metrics.events_recorded([
        TicketEvent(1, EventKind.SLA_BREACHED, T0), TicketEvent(1, EventKind.PAGED, T0),
        TicketEvent(1, EventKind.OPENED, T0), TicketEvent(2, EventKind.ASSIGNED, T0),
        TicketEvent(3, EventKind.OPENED, T0, data={"imported_from": "501"}),
    ])
    assert counted == ["sla_breached", "paged", "ticket_opened"]


def test_a_failing_hook_never_breaks_the_work() -> None:
    def boom() -> None:
        raise RuntimeError("registry gone")

    metrics.bind(paged=boom)
    try:
        metrics.paged()
    finally:
        metrics.reset()


def test_unknown_hook_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown metric hooks"):
        metrics.bind(tickets_eaten=lambda: None)


def _record(message: str, *args: object) -> logging.LogRecord:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, args, None)
    ContextFilter().filter(record)
    return record


def test_filter_adds_the_context_or_dashes() -> None:
    plain = _record("hello")
    assert (plain.request_id, plain.ticket) == ("-", "-")
    with logcontext.serving("http-1234"):
        logcontext.bind_ticket(42)
        inside = _record("hello")
    assert (inside.request_id, inside.ticket) == ("http-1234", "#42")
    assert logcontext.ticket_id.get() is None  # restored after the work


def test_filter_falls_back_to_a_ticket_number_in_the_message() -> None:
    assert _record("auto-close of #%s skipped", 17).ticket == "#17"
