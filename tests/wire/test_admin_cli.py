"""The admin CLI against the emulator: check-config --online, export, import (issue 11).

Each test runs `supportbot ...` (bot.cli.main) in a worker thread, as an admin would run it in a
shell next to a running Mattermost: its own event loop, real HTTP to the emulator.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import all_tickets, card, events, open_ticket
from workflows.model import EventKind, Priority, Status


def write_config(desk: Desk, path: Path, **sections: dict[str, str]) -> Path:
    data: dict[str, dict[str, Any]] = {
        "mattermost": {"url": desk.emu.url, "token": desk.token, "team": "main"},
        "server": {"host": "127.0.0.1", "port": desk.port,
                   "public_url": f"http://127.0.0.1:{desk.port}"},
        "database": {"url": desk.db_url},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    lines = []
    for name, values in data.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    lines += ['[[customers]]', 'name = "Acme Corp"', 'plan = "premium"',
              'email_domains = ["acme.com"]']
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """cli.main() configures the root logger onto the test's (soon closed) stderr: undo it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def supportbot(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


# --- check-config --online ------------------------------------------------------------------

async def test_online_check_passes_on_a_well_set_up_team(bare_desk: Desk, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(bare_desk, tmp_path / "bot.toml")
    assert await supportbot("check-config", "--online", "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "✔ mattermost.token: authenticated as @supportbot (bot account)" in out
    assert "✔ channels.customer_support: ~customer-support exists and the bot is a member" in out
    assert "✔ slash commands: the bot may manage them" in out
    assert "✘" not in out and "all checks passed" in out


async def test_online_check_lists_every_problem_with_its_fix(bare_desk: Desk, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bare_desk.emu.create_channel(bare_desk.team, "staff-only", members=[bare_desk.users["sam"]])
    config = write_config(bare_desk, tmp_path / "bot.toml", channels={
        "customer_support": "staff-only", "support_standup": "no-such-channel"})
    assert await supportbot("check-config", "--online", "--config", str(config)) == 1
    out = capsys.readouterr().out
    assert "✘ channels.customer_support: the bot is not a member of ~staff-only; add it with /invite" in out
    assert "✘ channels.support_standup: no channel named 'no-such-channel'" in out
    assert "✔ channels.sustained_engineering" in out  # checking goes on after a failure
    assert "2 check(s) failed" in out


async def test_online_check_names_the_missing_slash_command_permission(
        bare_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weak, token = bare_desk.emu.create_bot("weakbot", team=bare_desk.team, team_admin=False)
    for channel in ("customer-support", "support-standup", "sustained-engineering"):
        bare_desk.emu.add_member(bare_desk.channels[channel], weak)
    config = write_config(bare_desk, tmp_path / "bot.toml", mattermost={"token": token})
    assert await supportbot("check-config", "--online", "--config", str(config)) == 1
    out = capsys.readouterr().out
    assert "✘ slash commands: mattermost: the bot may not manage slash commands in this team; " \
           "make the bot account a team admin" in out


async def test_online_check_with_a_bad_token_skips_what_depends_on_it(
        bare_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(bare_desk, tmp_path / "bot.toml", mattermost={"token": "nope"})
    assert await supportbot("check-config", "--online", "--config", str(config)) == 1
    out = capsys.readouterr().out
    assert "✘ mattermost.token: Mattermost refused the token (401)" in out
    assert "- team, channels, permissions: not checked without a token" in out


async def test_offline_check_does_not_call_mattermost(bare_desk: Desk, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(bare_desk, tmp_path / "bot.toml", mattermost={"token": "nope"})
    assert await supportbot("check-config", "--config", str(config)) == 0
    assert capsys.readouterr().out.strip() == f"{config}: OK"


# --- export ---------------------------------------------------------------------------------

async def test_export_writes_each_ticket_with_its_events_as_json_lines(
        desk: Desk, tmp_path: Path) -> None:
    first = await open_ticket(desk)
    second = await open_ticket(desk, subject="Login page loops")
    config = write_config(desk, tmp_path / "bot.toml")
    out = tmp_path / "tickets.jsonl"
    assert await supportbot("export", "--config", str(config), "--format", "jsonl",
                            "--since", "2026-03-02", "--until", "2026-03-02",
                            "--output", str(out)) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [first.id, second.id]
    assert records[1]["subject"] == "Login page loops"
    kinds = [e["kind"] for e in records[0]["events"]]
    assert kinds[0] == "opened" and "announced" in kinds
    assert len(records[0]["events"]) == len(await events(desk, first.id))


async def test_export_csv_has_one_flat_row_per_ticket_and_respects_the_period(
        desk: Desk, tmp_path: Path) -> None:
    t = await open_ticket(desk)
    config = write_config(desk, tmp_path / "bot.toml")
    out = tmp_path / "tickets.csv"
    assert await supportbot("export", "--config", str(config), "--format", "csv",
                            "--since", "2026-03-02", "--until", "2026-03-05", "-o", str(out)) == 0
    [row] = list(csv.DictReader(out.open()))
    assert row["id"] == str(t.id) and row["status"] == "new" and row["priority"] == "high"
    assert row["organisation"] == "Acme Corp" and row["event_kinds"].startswith("opened")
    assert json.loads(row["events_json"])[0]["kind"] == "opened"
    earlier = tmp_path / "earlier.csv"
    assert await supportbot("export", "--config", str(config), "--format", "csv",
                            "--since", "2026-02-01", "--until", "2026-03-01", "-o", str(earlier)) == 0
    assert list(csv.DictReader(earlier.open())) == []


# --- import ---------------------------------------------------------------------------------

ZENDESK = {
    "tickets": [
        {"id": 501, "subject": "VPN drops every hour", "description": "Since the upgrade.",
         "status": "open", "priority": "urgent", "requester_id": 9001,
         "created_at": "2026-02-20T09:00:00Z", "updated_at": "2026-02-21T10:00:00Z",
         "tags": ["vpn", "connectivity"], "custom_fields": [{"id": 1, "value": None}]},
        {"id": 502, "subject": "Invoice question", "description": "Where is my invoice?",
         "status": "hold", "priority": None,
         "requester": {"email": "nobody@elsewhere.test", "name": "Nora Body"},
         "created_at": "2026-02-22T09:00:00Z"},
        {"id": 503, "subject": "Old and done", "status": "closed", "requester_id": 9001},
    ],
    "users": [{"id": 9001, "email": "Alice@acme.com", "name": "Alice Smith"}],
}


async def test_import_stores_open_tickets_and_the_bot_announces_them_on_start(
        bare_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(bare_desk, tmp_path / "bot.toml")
    export = tmp_path / "zendesk.json"
    export.write_text(json.dumps(ZENDESK))
    assert await supportbot("import", "--config", str(config), str(export)) == 0
    assert "imported 2 ticket(s), 0 already imported, 1 without a matching" in capsys.readouterr().out

    await bare_desk.start_bot()
    vpn, invoice = await all_tickets(bare_desk)
    assert (vpn.status, vpn.priority, vpn.form.category) == (Status.OPEN, Priority.URGENT, "connectivity")
    assert vpn.requester.user_id == bare_desk.user("alice").id
    assert vpn.requester.organisation == "Acme Corp"
    assert vpn.created_at.isoformat() == "2026-02-20T09:00:00+00:00"
    assert invoice.status is Status.OPEN and invoice.priority is Priority.NORMAL
    assert invoice.requester.user_id == bare_desk.user("supportbot").id  # nobody to DM
    assert "Nora Body <nobody@elsewhere.test>" in invoice.form.description
    opened = [e for e in await events(bare_desk, vpn.id) if e.kind is EventKind.OPENED]
    assert [e.data for e in opened] == [{"imported_from": "501"}]
    assert vpn.card_post_id and invoice.card_post_id  # announced by the start-up retry run
    assert "VPN drops every hour" in json.dumps(card(bare_desk, vpn)["props"])


async def test_importing_the_same_file_twice_creates_nothing_new(
        bare_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(bare_desk, tmp_path / "bot.toml")
    export = tmp_path / "zendesk.json"
    export.write_text(json.dumps(ZENDESK))
    assert await supportbot("import", "--config", str(config), str(export), "--all") == 0
    assert await supportbot("import", "--config", str(config), str(export), "--all") == 0
    out = capsys.readouterr().out
    assert "imported 3 ticket(s)" in out and "imported 0 ticket(s), 3 already imported" in out


async def test_import_refuses_a_file_of_the_wrong_shape(bare_desk: Desk, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(bare_desk, tmp_path / "bot.toml")
    export = tmp_path / "zendesk.json"
    export.write_text(json.dumps({"tickets": [{"subject": "no id"}]}))
    assert await supportbot("import", "--config", str(config), str(export)) == cli.EXIT_CONFIG
    assert "tickets[0]: each ticket needs an id" in capsys.readouterr().err
