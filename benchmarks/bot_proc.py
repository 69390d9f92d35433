"""The bot as its own process for the benchmarks, so its RSS is measured apart from the load driver.

    python -m benchmarks.bot_proc '<settings as JSON>'

Prints READY once `SupportBot.start()` returned, then serves until stdin closes or says "stop".
The scheduler is off: scheduled jobs are measured separately (benchmarks.ours sweep/summary).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.app import SupportBot
from bot.config import Settings


async def main(raw: str) -> None:
    settings = Settings.model_validate({**json.loads(raw), "config_dir": Path(".")})
    bot = SupportBot(settings)
    bot.run_scheduler = False
    await bot.start()
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            break
    await bot.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
