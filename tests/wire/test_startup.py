"""Start-up against the emulator: command registration without duplicates, clear errors."""

from __future__ import annotations

import pytest

from bot.startup import StartupError
from tests.wire.harness import Desk


async def test_start_registers_the_ticket_command_with_autocomplete(bare_desk: Desk) -> None:
    await bare_desk.start_bot()
    [command] = _commands(bare_desk)
    assert command["trigger"] == "ticket"
    assert command["url"] == f"http://127.0.0.1:{bare_desk.port}/mattermost/command"
    assert command["auto_complete"] is True and "new" in command["auto_complete_hint"]


def _commands(desk: Desk) -> list[dict]:
    return [c for c in desk.emu.commands(desk.team) if c["trigger"] == "ticket"]


async def test_restart_updates_the_command_in_place(bare_desk: Desk) -> None:
    await bare_desk.start_bot()
    [first] = _commands(bare_desk)
    await bare_desk.stop_bot()
    bare_desk.port = bare_desk.port + 1 if bare_desk.port < 65000 else bare_desk.port - 1
    await bare_desk.start_bot()
    [second] = _commands(bare_desk)
    assert (second["id"], second["token"]) == (first["id"], first["token"])
    assert second["url"].endswith(f":{bare_desk.port}/mattermost/command")
    result = await bare_desk.run("alice", "/ticket help")
    assert result.status == 200


async def test_missing_channel_stops_start_up_naming_it(bare_desk: Desk) -> None:
    with pytest.raises(StartupError, match=r"channels\.support_standup.*no-such-channel"):
        await bare_desk.start_bot(channels={"support_standup": "no-such-channel"})


async def test_bot_not_in_channel_stops_start_up_naming_it(bare_desk: Desk) -> None:
    bare_desk.emu.create_channel(bare_desk.team, "staff-only", members=[bare_desk.users["sam"]])
    with pytest.raises(StartupError, match=r"channels\.customer_support.*not a member.*staff-only"):
        await bare_desk.start_bot(channels={"customer_support": "staff-only"})


async def test_bad_token_stops_start_up(bare_desk: Desk) -> None:
    with pytest.raises(StartupError, match=r"mattermost\.token"):
        await bare_desk.start_bot(mattermost={"token": "not-a-token"})


async def test_unknown_team_stops_start_up(bare_desk: Desk) -> None:
    with pytest.raises(StartupError, match=r"mattermost\.team.*nope"):
        await bare_desk.start_bot(mattermost={"team": "nope"})
