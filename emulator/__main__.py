"""Run the emulator standalone: python -m emulator --port 8065 (seeded demo team)."""

from __future__ import annotations

import argparse
import asyncio

from . import Emulator


def seed(emu: Emulator) -> dict:
    team = emu.create_team("main", display_name="Main")
    alice = emu.create_user("alice", email="alice@acme.com")
    bob = emu.create_user("bob", email="bob@acme.com")
    agent = emu.create_user("agent", email="agent@example.com")
    for user in (alice, bob, agent):
        emu.add_team_member(team, user)
    bot, bot_token = emu.create_bot("supportbot", team=team, team_admin=True)
    emu.create_channel(team, "customer-support", display_name="Customer Support",
                       members=[alice, bob, agent, bot])
    emu.create_channel(team, "support-agents", display_name="Support Agents", type="P",
                       members=[agent, bot])
    emu.create_channel(team, "town-square", display_name="Town Square",
                       members=[alice, bob, agent, bot])
    return {"team_id": team.id, "bot_token": bot_token,
            **{f"{u.username}_token": emu.create_token(u) for u in (alice, bob, agent)}}


async def main(host: str, port: int) -> None:
    emu = Emulator(host=host, port=port)
    await emu.start()
    info = seed(emu)
    print(f"Mattermost emulator at {emu.url}", flush=True)
    for key, value in info.items():
        print(f"  {key}: {value}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8065)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        pass
