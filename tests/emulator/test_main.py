"""The standalone runner's seed data."""

from __future__ import annotations

from emulator.__main__ import seed


async def test_seed_creates_demo_team(emu):
    info = seed(emu)
    assert emu.store.tokens[info["bot_token"]]
    assert info["team"] == "main"
    names = {c.name for c in emu.store.channels.values()}
    # the channels bot.example.toml names, so `supportbot run` works against `python -m emulator`
    assert {"customer-support", "support-standup", "sustained-engineering", "town-square"} <= names
