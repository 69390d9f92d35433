"""A ready-made support team in the emulator: the world `supportbot demo` and `python -m emulator` use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator import Emulator


@dataclass
class World:
    team: Any
    bot: Any
    bot_token: str
    users: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)


def seed_support_team(emu: Emulator) -> World:
    """Team "main": customers alice (Acme, premium) and gina (Globex, enterprise), staff sam and
    tess, engineer erin; the channels the bot's example configuration names."""
    team = emu.create_team("main", display_name="Main")
    bot, token = emu.create_bot("supportbot", team=team, team_admin=True)
    people = {
        "alice": emu.create_user("alice", email="alice@acme.com", first_name="Alice",
                                 last_name="Smith"),
        "gina": emu.create_user("gina", email="gina@globex.example", first_name="Gina"),
        "sam": emu.create_user("sam", email="sam@vendor.example", first_name="Sam"),
        "tess": emu.create_user("tess", email="tess@vendor.example", first_name="Tess"),
        "erin": emu.create_user("erin", email="erin@vendor.example", first_name="Erin"),
    }
    for user in people.values():
        emu.add_team_member(team, user)
    staff = [bot, people["sam"], people["tess"]]
    world = World(team=team, bot=bot, bot_token=token, users={**people, "supportbot": bot})
    world.channels = {
        "town-square": emu.create_channel(team, "town-square", display_name="Town Square",
                                          members=[bot, *people.values()]),
        "customer-support": emu.create_channel(team, "customer-support",
                                               display_name="Customer Support", members=staff),
        "support-standup": emu.create_channel(team, "support-standup",
                                              display_name="Support Standup", members=staff),
        "sustained-engineering": emu.create_channel(
            team, "sustained-engineering", display_name="Sustained Engineering",
            members=[bot, people["erin"]]),
    }
    return world
