"""`supportbot run | migrate | check-config | demo`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import sys
from pathlib import Path

from bot import logs
from bot.config import ConfigError, Settings, example_path, load

log = logging.getLogger("supportbot")

EXIT_CONFIG = 2
EXIT_STARTUP = 1
TO_FILL = ("mattermost.url", "mattermost.token", "mattermost.team", "server.public_url",
           "[[customers]]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="supportbot", description="Support Desk for Mattermost")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "run the bot"), ("migrate", "create or upgrade the database schema"),
                       ("check-config", "validate the configuration file")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", "-c", default="bot.toml", type=Path, help="path to bot.toml")
    sub.add_parser("demo", help="run the bot against a built-in Mattermost emulator and show a ticket")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo())
    settings = _settings(args.config, create=args.command == "run")
    if isinstance(settings, int):
        return settings
    logs.configure(settings.logging.level, settings.logging.format)
    if args.command == "check-config":
        print(f"{args.config}: OK")
        return 0
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_run(settings))


def _settings(path: Path, *, create: bool) -> Settings | int:
    if not path.exists() and create:
        shutil.copyfile(example_path(), path)
        print(f"Created {path} from the example configuration.\n"
              f"Fill in {', '.join(TO_FILL)} (see the comments in the file), then run again.",
              file=sys.stderr)
        return EXIT_CONFIG
    try:
        return load(path)
    except ConfigError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG


async def _migrate(settings: Settings) -> int:
    from storage.db import normalise_url
    from storage.migrate import upgrade

    await upgrade(normalise_url(settings.database.url, settings.config_dir))
    print("database schema is up to date")
    return 0


async def _run(settings: Settings) -> int:
    from bot.app import SupportBot
    from bot.startup import StartupError

    bot = SupportBot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await bot.start()
    except StartupError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        await bot.stop()
        return EXIT_STARTUP
    await stop.wait()
    log.info("stopping")
    await asyncio.wait_for(bot.stop(), timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
