"""The standalone runner's seed data."""

from __future__ import annotations

from emulator.__main__ import seed


async def test_seed_creates_demo_team(emu):
    info = seed(emu)
    assert emu.store.tokens[info["bot_token"]]
    team = emu.store.teams[info["team_id"]]
    assert team.name == "main"
    names = {c.name for c in emu.store.channels.values()}
    assert {"customer-support", "town-square"} <= names
