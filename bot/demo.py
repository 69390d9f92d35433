"""`supportbot demo`: the emulator and the bot in one process, a short scripted scenario, a transcript.

A newcomer sees the product work with no Mattermost server: a customer opens an urgent ticket, it
appears in ~Customer Support, an agent takes it and replies, the customer answers in their thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from pathlib import Path
from typing import Any

from bot.app import SupportBot
from bot.config import Settings
from emulator import Emulator
from emulator.world import World, seed_support_team

FORM = {
    "cc": "",
    "subject": "Production server down after upgrade to 10.11",
    "priority": "urgent",
    "category": "upgrading",
    "description": "After upgrading to 10.11.2 the server fails to start: "
                   "'migration 212 failed'. All 4,000 users are blocked.",
    "environment": "production",
    "mattermost_version": "10.11.2",
    "mobile_version": "",
    "mobile_device": "",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(emu: Emulator, world: World, folder: Path) -> Settings:
    port = _free_port()
    return Settings.model_validate({
        "mattermost": {"url": emu.url, "token": world.bot_token, "team": world.team.name},
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "database": {"url": f"sqlite:///{folder / 'demo.db'}"},
        "customers": [{"name": "Acme Corp", "plan": "premium", "email_domains": ["acme.com"]}],
        "config_dir": folder,
    })


class Transcript:
    """Prints what each person did and what each channel and DM received, as a reader would see it."""

    def __init__(self, emu: Emulator, world: World) -> None:
        self.emu, self.world = emu, world
        self.names = {u.id: u.username for u in world.users.values()}

    def say(self, line: str) -> None:
        print(f"\n▶ {line}")

    def post(self, post: dict[str, Any], indent: str = "  ") -> None:
        who = self.names.get(post["user_id"], post["user_id"])
        body = post["message"].replace("\u200b", "").replace("\u2060", "")
        lines = body.splitlines() or [""]
        print(f"{indent}{who}: {lines[0]}")
        pad = " " * (len(indent) + len(who) + 2)
        for line in lines[1:]:
            print(f"{pad}{line}".rstrip())
        for att in post.get("props", {}).get("attachments") or []:
            if att.get("title"):
                print(f"{indent}  ┌ {att['title'].replace(chr(0x200b), '')}")
            for f in att.get("fields") or []:
                print(f"{indent}  │ {f['title']}: {str(f['value']).replace(chr(0x200b), '').replace(chr(0x2060), '')}")
            actions = [a["name"] for a in att.get("actions") or []]
            if actions:
                print(f"{indent}  └ buttons: " + " ".join(f"[{a}]" for a in actions))
        for file_id in post.get("file_ids") or []:
            print(f"{indent}  📎 {self.emu.file_info(file_id)['name']}")

    def channel(self, name: str) -> None:
        channel = self.world.channels[name]
        print(f"\n~{name}")
        for post in self.emu.posts(channel.id):
            if not post.get("root_id"):
                self.post(post)
                for reply in self.emu.posts(channel.id, root_id=post["id"])[1:]:
                    self.post(reply, indent="      ↳ ")

    def dm(self, a: str, b: str) -> None:
        print(f"\nDirect messages {a} ↔ {b}")
        posts = self.emu.dm_posts(self.world.users[a], self.world.users[b])
        for post in posts:
            if not post.get("root_id"):
                self.post(post)
                for reply in [p for p in posts if p.get("root_id") == post["id"]]:
                    self.post(reply, indent="      ↳ ")


async def _settle(bot: SupportBot) -> None:
    for _ in range(5):
        await bot.background.drain()
        await asyncio.sleep(0.1)


async def _scenario(emu: Emulator, world: World, bot: SupportBot, out: Transcript) -> None:
    users, channels = world.users, world.channels
    out.say("alice types /ticket new in ~town-square")
    await emu.execute_command(users["alice"], channels["town-square"].id, "/ticket new")
    dialog = emu.last_dialog(users["alice"])["dialog"]
    print(f"  a dialog opens: \"{dialog['title']}\" with fields "
          + ", ".join(e["display_name"] for e in dialog["elements"]))
    out.say(f"alice fills it in (Urgent, \"{FORM['subject']}\") and submits")
    result = await emu.submit_dialog(users["alice"], FORM)
    print(f"  the dialog closes (bot answered {result.body or '{}'})")
    await _settle(bot)
    card = emu.posts(channels["customer-support"].id)[0]
    out.say("sam clicks [Take it] on the card in ~customer-support")
    take = next(a for a in emu.post(card["id"])["props"]["attachments"][0]["actions"]
                if a["name"] == "Take it")
    await emu.click(users["sam"], card["id"], take["id"])
    await _settle(bot)
    ticket_no = card["props"]["supportdesk_ticket"]
    out.say("sam writes an internal note in the card's thread")
    await emu.post_as(users["sam"], channels["customer-support"].id,
                      "Looks like the known migration bug; checking with engineering.",
                      root_id=card["id"])
    out.say(f"sam runs /ticket reply {ticket_no} … to answer the customer")
    await emu.execute_command(users["sam"], channels["customer-support"].id,
                              f"/ticket reply {ticket_no} Thanks Alice, we're on it. Could you "
                              "send the server log from the failed start?")
    await _settle(bot)
    root = emu.dm_posts(users["alice"], users["supportbot"])[0]
    out.say("alice answers in her ticket thread and attaches the log")
    file_id = await emu.upload_as(users["alice"], root["channel_id"], "mattermost.log",
                                  b"error: migration 212 failed\n")
    await emu.post_as(users["alice"], root["channel_id"], "Here is the log.", root_id=root["id"],
                      file_ids=(file_id,))
    for _ in range(50):
        await asyncio.sleep(0.05)
        if len(emu.posts(channels["customer-support"].id, root_id=card["id"])) >= 4:
            break
    await _settle(bot)
    print("\n" + "═" * 72 + "\nWhat everyone saw\n" + "═" * 72)
    out.channel("customer-support")
    out.dm("supportbot", "alice")


async def run_demo() -> int:
    logging.basicConfig(level=logging.WARNING)
    emu = Emulator(host="127.0.0.1", port=0)
    await emu.start()
    world = seed_support_team(emu)
    with tempfile.TemporaryDirectory(prefix="supportbot-demo-") as folder:
        bot = SupportBot(_settings(emu, world, Path(folder)))
        bot.run_scheduler = False
        try:
            print(f"Support Desk demo — a Mattermost emulator at {emu.url}, the bot at "
                  f"{bot.settings.server.public_url}")
            await bot.start()
            await _scenario(emu, world, bot, Transcript(emu, world))
        finally:
            await bot.stop()
            await emu.stop()
    print("\nThat's the desk. Run it against your own Mattermost with `supportbot run`.")
    return 0
