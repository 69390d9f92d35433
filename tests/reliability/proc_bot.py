"""The bot in its own process for the kill -9 test (issue 8, fault 3): test-side code only.

    python -m tests.reliability.proc_bot '<settings as JSON, plus "clock_file">'

The bot's clock is a `FileClock`: the ISO instant in `clock_file`, written by the test, so a
scripted day takes minutes and both runs (with and without kills) see the same instants. The
scheduler is off; the test drives the jobs over stdin, one command a line:

    jobs <n>    -> `await bot.jobs.run_all()`, background work drained, then `DONE <n> <json>`
    settle <n>  -> background work drained, then `DONE <n> {}`
    stop        -> a graceful stop (the test kills with SIGKILL instead, when it wants a crash)

Prints `READY <pid>` once `SupportBot.start()` returned and the start-up run of the interval
jobs is drained. Logs go to stderr (the test sends them to a file per process).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from bot import logs
from bot.app import SupportBot
from bot.config import Settings


class FileClock:
    """`now` is the ISO instant in a small file the test rewrites (atomically, by rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._now: datetime | None = None

    def __call__(self) -> datetime:
        stat = os.stat(self.path)
        key = (stat.st_ino, stat.st_mtime_ns)
        if key != self._seen or self._now is None:
            self._now = datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())
            self._seen = key
        return self._now


async def _settle(bot: SupportBot) -> None:
    for _ in range(3):
        await bot.background.drain(timeout=30)
        await asyncio.sleep(0.01)


async def main(raw: str) -> None:
    data = json.loads(raw)
    clock = FileClock(Path(data.pop("clock_file")))
    settings = Settings.model_validate({**data, "config_dir": Path(".")})
    logs.configure(settings.logging.level, settings.logging.format)
    bot = SupportBot(settings, clock=clock)
    bot.run_scheduler = False  # the test sends "jobs" after moving the clock
    await bot.start()
    await _settle(bot)  # the start-up run of the interval jobs is done before READY
    print(f"READY {os.getpid()}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "stop":
            break
        command, ref = words[0], (words[1] if len(words) > 1 else "-")
        result: dict[str, int] = {}
        if command == "jobs":
            assert bot.jobs is not None
            result = await bot.jobs.run_all()
        await _settle(bot)
        print(f"DONE {ref} {json.dumps(result)}", flush=True)
    await bot.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
