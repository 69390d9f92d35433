"""Playing the scripted day against a bot process that may be killed -9 (issue 8, fault 3).

The emulator runs in the test process; the bot runs in `tests.reliability.proc_bot` on a SQLite
file, so a kill is a real SIGKILL. People behave like real clients: an action the bot did not
answer is retried after the restart (a dialog with the same state, a slash command again); a
message posted over the websocket is never posted twice: the bot has to find it itself.
Every effect a person waits for (a card, a relay, a reaction) has a timeout; what never shows
up is written down in `notes` (what shows up later, in `late`), and the day goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from commands import replies
from tests.reliability.kill9_script import (
    CSAT_SEND_AFTER, SOLVED_CLOSE_AFTER, STEP, Act, Day, Kill,
)
from tests.reliability.helpers import UNLIMITED
from tests.wire.harness import Desk, free_port, seeded_desk
from tests.wire.workflow_helpers import FORM

ROOT = Path(__file__).resolve().parents[2]
EFFECT_TIMEOUT = 5.0  # seconds after the bot is (back) up
# sam holds primary, tess secondary, around the clock; lee is the lead (tests/wire/test_oncall)
ONCALL: dict[str, Any] = {
    "check_interval": "1m", "ack_timeout": "10m", "repeat": 0, "lead": ["lee"],
    "regions": [{"name": "GLOBAL", "timezone": "UTC", "hours": "00:00-24:00",
                 "primary": ["sam"], "secondary": ["tess"]}],
}
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


PACKAGES = ("bot", "commands", "workflows", "storage")
RUNNER = ("tests/__init__.py", "tests/reliability/__init__.py", "tests/reliability/proc_bot.py")


def snapshot_code(dest: Path) -> Path:
    """A copy of the bot's code for both runs: others edit the tree while this test runs, and
    the two runs must compare the same code."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in RUNNER:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, dest / name)
    return dest


class BotProcess:
    """One `proc_bot` process: READY, then `jobs`/`settle` commands answered by DONE lines."""

    def __init__(self, settings: dict[str, Any], log_path: Path, code: Path = ROOT) -> None:
        self.settings = settings
        self.log_path = log_path
        self.code = code
        self.proc: asyncio.subprocess.Process | None = None
        self._n = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, label: str) -> float:
        started = time.monotonic()
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n===== {label} =====\n")
        log = self.log_path.open("a", encoding="utf-8")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.reliability.proc_bot", json.dumps(self.settings),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                cwd=self.code, env={**os.environ, "PYTHONPATH": str(self.code)})
        finally:
            log.close()
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
            if not line:
                raise AssertionError(f"the bot did not start ({label}):\n{self.log_tail()}")
            if line.startswith(b"READY"):
                return time.monotonic() - started

    async def kill(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    async def command(self, word: str) -> dict[str, int] | None:
        """Send a command and wait for its DONE; None if the process died meanwhile."""
        if not self.alive:
            return None
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self._n += 1
        try:
            self.proc.stdin.write(f"{word} {self._n}\n".encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return None
        prefix = f"DONE {self._n} ".encode()
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=120)
            if not line:
                await self.proc.wait()
                return None
            if line.startswith(prefix):
                return json.loads(line[len(prefix):])

    async def stop(self) -> None:
        if not self.alive:
            return
        assert self.proc is not None and self.proc.stdin
        self.proc.stdin.write(b"stop\n")
        await self.proc.stdin.drain()
        await asyncio.wait_for(self.proc.wait(), timeout=60)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


async def open_desk(folder: Path) -> Desk:
    """The seeded emulator of tests/wire, plus lee (the on-call lead)."""
    folder.mkdir(parents=True, exist_ok=True)
    desk = await seeded_desk(f"sqlite:///{folder / 'desk.db'}")
    lee = desk.emu.create_user("lee", email="lee@vendor.test")
    desk.emu.add_team_member(desk.team, lee)
    desk.emu.add_member(desk.support, lee)
    desk.users["lee"] = lee
    return desk


def bot_settings(desk: Desk, clock_file: Path) -> dict[str, Any]:
    return {
        "mattermost": {"url": desk.emu.url, "token": desk.token, "team": "main"},
        "server": {"host": "127.0.0.1", "port": desk.port,
                   "public_url": f"http://127.0.0.1:{desk.port}"},
        "database": {"url": desk.db_url},
        "customers": [
            {"name": "Acme Corp", "plan": "premium", "email_domains": ["acme.com"]},
            {"name": "Globex", "plan": "enterprise", "usernames": ["gina"]},
        ],
        "security": UNLIMITED,
        "oncall": ONCALL,
        "workflow": {"solved_close_after": SOLVED_CLOSE_AFTER},
        "csat": {"send_after": CSAT_SEND_AFTER},
        "summary": {"at": "09:00", "days": ALL_DAYS},
        "clock_file": str(clock_file),
    }


@dataclass
class Player:
    """Plays a `Day` against the desk; kills the bot where `kills` says."""

    desk: Desk
    folder: Path
    start: datetime
    code: Path = ROOT  # where the bot's code is (a snapshot)
    kills: dict[int, Kill] = field(default_factory=dict)
    durations: dict[int, float] = field(default_factory=dict)  # act index -> seconds (no kills)
    notes: list[str] = field(default_factory=list)
    kill_log: list[str] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # effects that came only after a later step
    bot: BotProcess | None = None
    _killer: asyncio.Task[None] | None = None
    _overdue: list[tuple[str, Any]] = field(default_factory=list)
    clock_file: Path = field(init=False)  # the bot's FileClock reads it

    def __post_init__(self) -> None:
        self.clock_file = self.folder / "clock"

    @property
    def emu(self) -> Any:
        return self.desk.emu

    @property
    def bot_id(self) -> str:
        return str(self.desk.users["supportbot"].id)

    # --- the process ---------------------------------------------------------------------
    async def boot(self) -> None:
        self.set_clock(self.start)
        self.bot = BotProcess(bot_settings(self.desk, self.clock_file), self.folder / "bot.log",
                              self.code)
        await self.bot.start("start")

    async def kill_now(self, why: str) -> None:
        assert self.bot is not None
        await self.bot.kill()
        self.kill_log.append(why)

    def kill_later(self, delay: float, why: str) -> None:
        async def later() -> None:
            await asyncio.sleep(delay)
            await self.kill_now(f"{why} after {delay * 1000:.0f} ms")

        self._killer = asyncio.create_task(later())

    async def ensure_up(self) -> None:
        """Let a planned kill happen, then restart the bot if it is down."""
        if self._killer is not None:
            killer, self._killer = self._killer, None
            await killer
        assert self.bot is not None
        if not self.bot.alive:
            code = self.bot.proc.returncode if self.bot.proc is not None else None
            if code not in (None, -signal.SIGKILL):
                raise AssertionError(f"the bot died by itself (exit {code}):"
                                     f"\n{self.bot.log_tail()}")
            self.restarts.append(await self.bot.start(f"restart {len(self.restarts) + 1}"))

    async def settle(self) -> None:
        while True:
            await self.ensure_up()
            assert self.bot is not None
            if await self.bot.command("settle") is not None:
                return

    async def retry(self, what: str, attempt: int) -> None:
        """An action was not answered: expected only while the bot is (being) killed."""
        assert self.bot is not None
        if self._killer is None and self.bot.alive:
            if attempt >= 5:
                raise AssertionError(f"{what}: not answered, and the bot is up")
            await asyncio.sleep(0.2)
        await self.ensure_up()

    async def wait_effect(self, what: str, check: Any) -> bool:
        deadline = time.monotonic() + EFFECT_TIMEOUT
        while not check():
            assert self.bot is not None
            if (self._killer is not None and self._killer.done()) or not self.bot.alive:
                await self.ensure_up()
                deadline = time.monotonic() + EFFECT_TIMEOUT
            if time.monotonic() > deadline:
                self._overdue.append((what, check))
                return False
            await asyncio.sleep(0.02)
        return True

    def set_clock(self, at: datetime) -> None:
        """The bot reads this file; the emulator's clock follows (never backwards)."""
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(at.isoformat(), encoding="utf-8")
        os.replace(tmp, self.clock_file)
        ahead = at.timestamp() - time.time()
        if ahead > self.emu.clock_offset:
            self.emu.clock_offset = ahead

    async def close(self) -> None:
        """After the day (or a failure): no killer left behind, no bot process left running."""
        if self._killer is not None:
            self._killer.cancel()
            await asyncio.gather(self._killer, return_exceptions=True)
            self._killer = None
        if self.bot is not None and self.bot.alive:
            await self.bot.kill()

    # --- the day ---------------------------------------------------------------------------
    async def play(self, day: Day) -> None:
        await self.boot()
        for act in day.acts:
            if act.kind == "jobs":
                self.set_clock(self.start + act.step * STEP)
            kill = self.kills.get(act.index)
            started = time.monotonic()
            if kill is not None and kill.mode == "before":
                await self.kill_now(f"before {act}")
            elif kill is not None:
                delay = kill.fraction * self.durations.get(act.index, 0.3)
                self.kill_later(delay, f"during {act}")
            await getattr(self, f"_{act.kind}")(act)
            await self.settle()
            self.durations.setdefault(act.index, time.monotonic() - started)
        for what, check in self._overdue:  # done by a later step's jobs (slots count bot time)
            (self.late if check() else self.notes).append(
                f"{'late' if check() else 'never happened'}: {what}")
        assert self.bot is not None
        await self.bot.stop()

    async def _jobs(self, act: Act) -> None:
        attempt = 0
        while True:
            await self.ensure_up()
            assert self.bot is not None
            if await self.bot.command("jobs") is not None:
                return
            attempt += 1
            await self.retry(str(act), attempt)

    async def _submit(self, act: Act) -> None:
        user = self.desk.user(act.user)
        opened = self.emu.store.dialogs.setdefault(user.id, [])
        attempt = 0
        while True:  # /ticket new until the form opens
            before = len(opened)
            answer = await self.emu.execute_command(user, self.desk.channels["town-square"].id,
                                                    "/ticket new")
            if len(opened) > before:
                break
            attempt += 1
            await self.retry(f"{act}: /ticket new answered {answer.status}", attempt)
        form = {**FORM, "subject": act.text, "priority": act.priority}
        attempt = 0
        while True:  # the same form (same dialog state) until the bot answers it
            answer = await self.emu.submit_dialog(user, form)
            body = answer.body if isinstance(answer.body, dict) else {}
            if answer.status == 200 and not body:
                break
            if answer.status == 200 and body.get("error") != replies.temporarily_unavailable():
                raise AssertionError(f"{act}: refused {body}")
            attempt += 1
            await self.retry(f"{act}: submit answered {answer.status} {body}", attempt)
        await self.wait_effect(f"{act}: card and customer thread posted", lambda: (
            self.card(act.ticket) is not None and self.customer_root(act.ticket) is not None))

    async def _staff_reply(self, act: Act) -> None:
        card = self.card(act.ticket)
        if card is None:
            self.notes.append(f"skipped (no card): {act}")
            return
        post = await self.emu.post_as(self.desk.user(act.user), self.desk.support.id,
                                      f"!reply {act.text}", root_id=card["id"])
        await self.wait_effect(f"{act}: reply relayed and acknowledged", lambda: any(
            r.get("user_id") == self.bot_id for r in self.emu.store.reactions.get(post["id"], [])))

    async def _customer(self, act: Act) -> None:
        root, card = self.customer_root(act.ticket), self.card(act.ticket)
        if root is None or card is None:
            self.notes.append(f"skipped (no customer thread): {act}")
            return
        post = await self.emu.post_as(self.desk.user(act.user), root["channel_id"], act.text,
                                      root_id=root["id"])

        def handled() -> bool:  # relayed (or answered in the DM thread, e.g. a follow-up offer)
            thread = self.emu.store.thread(card["id"])
            if any(p["user_id"] == self.bot_id and act.text in p["message"] for p in thread):
                return True
            return any(p["user_id"] == self.bot_id
                       and post["id"] in str((p.get("props") or {}).get("supportdesk_key", ""))
                       for p in self.emu.store.thread(root["id"]))

        await self.wait_effect(f"{act}: message relayed to the staff thread", handled)

    async def _status(self, act: Act) -> None:
        await self._command(act, f"/ticket status {act.ticket} {act.text}")

    async def _take(self, act: Act) -> None:
        await self._command(act, f"/ticket take {act.ticket}")

    async def _command(self, act: Act, command: str) -> None:
        """A staff slash command in ~customer-support, again until the bot answers it."""
        attempt = 0
        while True:
            answer = await self.emu.execute_command(self.desk.user(act.user),
                                                    self.desk.support.id, command)
            if answer.status == 200:
                return
            attempt += 1
            await self.retry(f"{act}: answered {answer.status}", attempt)

    # --- looking things up in the emulator -----------------------------------------------
    def _bot_root(self, number: int, roles: tuple[str | None, ...]) -> dict[str, Any] | None:
        for post in self.emu.store.posts.values():
            props = post.get("props") or {}
            if (post["user_id"] == self.bot_id and not post.get("root_id")
                    and not post.get("delete_at") and props.get("supportdesk_ticket") == number
                    and props.get("supportdesk_role") in roles):
                return post
        return None

    def card(self, number: int) -> dict[str, Any] | None:
        found = self._bot_root(number, (None, "card"))
        return found if found and found["channel_id"] == self.desk.support.id else None

    def customer_root(self, number: int) -> dict[str, Any] | None:
        return self._bot_root(number, ("customer_root",))
