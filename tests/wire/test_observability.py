"""Probes, Prometheus metrics and log context against a running desk (issue 11)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observability import ContextFilter
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import events, open_ticket
from workflows.model import EventKind


async def get(desk: Desk, path: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{desk.port}{path}") as resp:
            return resp.status, await resp.text(), dict(resp.headers)


async def scrape(desk: Desk) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text, headers = await get(desk, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_readyz_and_healthz_follow_the_websocket(desk: Desk) -> None:
    assert (await get(desk, "/readyz"))[0] == 200
    assert desk.bot is not None and desk.bot.websocket is not None
    await desk.bot.websocket.stop()
    status, body, _ = await get(desk, "/readyz")
    assert status == 503 and '"mattermost": false' in body
    status, body, _ = await get(desk, "/healthz")
    assert status == 503 and '"status": "degraded"' in body


async def test_metrics_move_with_an_intake(desk: Desk) -> None:
    before = await scrape(desk)
    assert value(before, "supportbot_tickets_opened_total") == 0
    assert value(before, "supportbot_tickets", status="new") == 0

    await open_ticket(desk)
    after = await scrape(desk)
    assert value(after, "supportbot_tickets_opened_total") == 1
    assert value(after, "supportbot_callback_seconds_count", route="/mattermost/dialog") == 1
    assert value(after, "supportbot_callback_seconds_count", route="/mattermost/command") == 1
    assert value(after, "supportbot_tickets", status="new") == 0  # gauges re-read every 15 s

    desk.clock.advance(seconds=16)
    later = await scrape(desk)
    assert value(later, "supportbot_tickets", status="new") == 1
    assert value(later, "supportbot_outbox_depth") == 0  # card and customer thread posted
    assert value(later, "supportbot_websocket_connected") == 1


async def test_metrics_count_job_runs(desk: Desk) -> None:
    before = value(await scrape(desk), "supportbot_job_runs_total", job="auto-close")
    await desk.run_jobs()
    assert value(await scrape(desk), "supportbot_job_runs_total", job="auto-close") == before + 1


@pytest.fixture
def context_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.INFO)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_log_lines_of_a_callback_carry_its_request_id_and_ticket(
        desk: Desk, context_records: list[logging.LogRecord]) -> None:
    t = await open_ticket(desk)
    [opened] = [r for r in context_records if r.getMessage().startswith(f"ticket #{t.id} opened")]
    assert opened.request_id.startswith("http-") and opened.ticket == f"#{t.id}"

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{desk.port}/healthz",
                            headers={"X-Request-ID": "lb-probe-1"}) as resp:
            assert resp.headers["X-Request-ID"] == "lb-probe-1"


async def test_pages_are_counted_where_they_are_logged(bare_desk: Desk) -> None:
    from tests.wire.test_oncall import page_count, start

    await start(bare_desk)
    t = await open_ticket(bare_desk, priority="urgent")  # Acme Corp: Premium
    await bare_desk.run_jobs()
    samples = await scrape(bare_desk)
    assert await page_count(bare_desk, t.id) >= 1
    assert value(samples, "supportbot_pages_total") == await page_count(bare_desk, t.id)


async def test_sla_breaches_are_counted_where_they_are_logged(desk: Desk) -> None:
    t = await open_ticket(desk, priority="urgent")  # Premium Urgent: first reply within 1 h
    desk.clock.advance(minutes=61)
    await desk.run_jobs()
    await desk.run_jobs()
    assert [e.kind for e in await events(desk, t.id)].count(EventKind.SLA_BREACHED) == 1
    assert value(await scrape(desk), "supportbot_sla_breaches_total") == 1
