"""`supportbot run | migrate | check-config [--online] | export | import | demo`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import stat
import sys
from pathlib import Path
import csv  # export/import (issue 11)
import json  # export/import (issue 11)
from datetime import UTC, date, datetime, time, timedelta  # export/import (issue 11)
from typing import Any, TextIO  # export/import (issue 11)

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
    _add_admin_commands(sub)  # check-config --online, export, import (issue 11)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo())
    settings = _settings(args.config, create=args.command == "run")
    if isinstance(settings, int):
        return settings
    logs.configure(settings.logging.level, settings.logging.format)
    if args.command in ("check-config", "export", "import"):  # issue 11
        return _admin_command(args, settings)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_run(settings))


def _settings(path: Path, *, create: bool) -> Settings | int:
    if not path.exists() and create:
        shutil.copyfile(example_path(), path)
        path.chmod(0o600)  # security (issue 9): it will hold the bot token
        print(f"Created {path} from the example configuration.\n"
              f"Fill in {', '.join(TO_FILL)} (see the comments in the file), then run again.",
              file=sys.stderr)
        return EXIT_CONFIG
    try:
        settings = load(path)
    except ConfigError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if (warning := permission_warning(path)) is not None:  # security (issue 9)
        print(f"warning: {warning}", file=sys.stderr)
    return settings


def permission_warning(path: Path) -> str | None:
    """The config holds the bot token: say so if other users of the machine can read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & stat.S_IROTH:
        return None
    return (f"{path} is readable by every user on this machine (mode {stat.S_IMODE(mode):o}) and "
            f"may hold the bot token; restrict it with: chmod 600 {path}")


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


# --- admin commands: check-config --online, export, import (issue 11) ---
def _add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.choices["check-config"].add_argument(
        "--online", action="store_true",
        help="also check the token, team, channels, membership and permissions on Mattermost")
    p = sub.add_parser("export", help="write tickets with their events as CSV or JSON lines")
    p.add_argument("--config", "-c", default="bot.toml", type=Path, help="path to bot.toml")
    p.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    p.add_argument("--since", required=True, type=_date, help="first day (YYYY-MM-DD, UTC)")
    p.add_argument("--until", required=True, type=_date, help="last day, included (YYYY-MM-DD)")
    p.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    p = sub.add_parser("import", help="load tickets from a Zendesk-style JSON export")
    p.add_argument("--config", "-c", default="bot.toml", type=Path, help="path to bot.toml")
    p.add_argument("file", type=Path, help='JSON file: {"tickets": [...], "users": [...]}')
    p.add_argument("--all", action="store_true", help="also import solved and closed tickets")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-01") from None


def _admin_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "check-config":
        print(f"{args.config}: OK")
        return asyncio.run(check_online(settings, sys.stdout)) if args.online else 0
    if args.command == "export":
        if args.since > args.until:
            print("--since is after --until", file=sys.stderr)
            return EXIT_CONFIG
        return asyncio.run(export(settings, args.format, args.since, args.until, args.output))
    return asyncio.run(import_file(settings, args.file, include_closed=args.all))


async def check_online(settings: Settings, out: TextIO) -> int:
    from bot.gateway import MattermostGateway
    from bot.preflight import print_checklist, run_checks

    gateway = MattermostGateway(settings.mattermost.url, settings.mattermost.token)
    try:
        checks = await run_checks(settings, gateway)
    finally:
        await gateway.close()
    return 0 if print_checklist(checks, out) else 1


def _uow_factory(settings: Settings) -> tuple[Any, Any]:
    from storage import db
    from storage.uow import SqlUnitOfWork

    engine = db.create_engine(db.normalise_url(settings.database.url, settings.config_dir))
    sessions = db.session_factory(engine)
    return engine, lambda: SqlUnitOfWork(sessions)


async def export(settings: Settings, fmt: str, since: date, until: date, output: Path | None,
                 *, progress_stream: TextIO | None = None) -> int:
    """Tickets created from `since` 00:00 UTC to the end of `until`, streamed batch by batch."""
    from bot.progress import Progress
    from commands import transfer as use_case
    from workflows.transfer import CSV_COLUMNS, csv_row

    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    engine, uow = _uow_factory(settings)
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        total = await use_case.count_export(uow, start, end)
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        with Progress(total, "exporting", stream=progress_stream) as bar:
            async for record in use_case.export_records(uow, start, end):
                if writer is not None:
                    writer.writerow(csv_row(record))
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                bar.update()
    finally:
        if output:
            out.close()
        await engine.dispose()
    print(f"exported {total} ticket(s) created {since} to {until}", file=sys.stderr)
    return 0


async def import_file(settings: Settings, path: Path, *, include_closed: bool = False) -> int:
    """Import against the live Mattermost: requesters are matched to users by e-mail."""
    from bot.gateway import MattermostGateway
    from bot.startup import StartupError, check_token
    from commands import transfer as use_case
    from storage import db
    from storage.migrate import upgrade
    from workflows.transfer import ImportFormatError, parse_export

    try:
        items = parse_export(json.loads(path.read_text(encoding="utf-8")),
                             now=datetime.now(UTC), include_closed=include_closed)
    except (OSError, ValueError) as exc:  # ImportFormatError and JSONDecodeError are ValueErrors
        kind = "" if isinstance(exc, ImportFormatError) else "cannot read it: "
        print(f"{path}: {kind}{exc}", file=sys.stderr)
        return EXIT_CONFIG
    await upgrade(db.normalise_url(settings.database.url, settings.config_dir))
    gateway = MattermostGateway(settings.mattermost.url, settings.mattermost.token)
    engine, uow = _uow_factory(settings)
    try:
        bot_user = await check_token(gateway, settings.mattermost.url)
        report = await use_case.import_tickets(items, uow=uow, gateway=gateway, bot_user=bot_user,
                                               customers=settings.customer_list())
    except StartupError as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    finally:
        await gateway.close()
        await engine.dispose()
    print(f"imported {len(report.imported)} ticket(s), {len(report.already)} already imported, "
          f"{len(report.unmatched)} without a matching Mattermost user (kept in the description); "
          "the bot announces them when it next runs")
    return 0
# --- end admin commands ---


if __name__ == "__main__":
    sys.exit(main())
