"""The bot as its own process for the benchmarks, so its RSS is measured apart from the driver.

    python -m benchmarks.bot_proc '<settings as JSON>'

Prints READY once `SupportBot.start()` returned, then serves until stdin closes or says "stop".
With "bench_clock_start" (ISO time) in the JSON the bot's clock starts at that instant (the seeded
history is dated around a fixed day). The scheduler is off: scheduled jobs are measured
separately (benchmarks.ours sweep/summary).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tracemalloc
from pathlib import Path

from datetime import datetime

from bot.app import SupportBot, system_clock
from bot.config import Settings


async def main(raw: str) -> None:
    if os.environ.get("BENCH_BOT_TRACEMALLOC"):
        tracemalloc.start(1)
    data = json.loads(raw)
    start_at = data.pop("bench_clock_start", None)  # the bot's clock starts here, then runs
    settings = Settings.model_validate({**data, "config_dir": Path(".")})
    clock = system_clock
    if start_at is not None:
        offset = datetime.fromisoformat(start_at) - system_clock()

        def clock() -> datetime:
            return system_clock() + offset

    bot = SupportBot(settings, clock=clock)
    bot.run_scheduler = False
    await bot.start()
    await bot.background.drain()  # the start-up run of the interval jobs is done before READY
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    before = None
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            break
        if line.strip() == "snap" and tracemalloc.is_tracing():  # BENCH_BOT_TRACEMALLOC=1
            before = tracemalloc.take_snapshot()
    if before is not None:
        after = tracemalloc.take_snapshot()
        for stat in after.compare_to(before, "lineno")[:25]:
            print("tracemalloc", stat, file=sys.stderr)
        print("tracemalloc total", sum(s.size for s in after.statistics("filename")) / 2**20,
              "MiB traced", file=sys.stderr, flush=True)
    await bot.stop()


if __name__ == "__main__":
    if profile := os.environ.get("BENCH_BOT_PROFILE"):  # cProfile the bot, stats to this file
        import cProfile

        cProfile.run("asyncio.run(main(sys.argv[1]))", profile)
    else:
        asyncio.run(main(sys.argv[1]))
