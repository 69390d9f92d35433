"""Run the emulator standalone: python -m emulator --port 8065 (seeded with emulator/world.py)."""

from __future__ import annotations

import argparse
import asyncio

from . import Emulator
from .world import seed_support_team


def seed(emu: Emulator) -> dict:
    world = seed_support_team(emu)
    return {"team": world.team.name, "bot_token": world.bot_token,
            **{f"{name}_token": emu.create_token(user) for name, user in world.users.items()
               if name != "supportbot"}}


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
