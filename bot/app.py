"""Composition root: build the dependencies once, start everything in order, stop it in reverse."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

import commands.buttons  # noqa: F401  (registers the card's buttons and dialogs)
import commands.csat  # noqa: F401  (registers the rating buttons and comment dialog)
import commands.help  # noqa: F401  (registers /ticket help)
import commands.intake  # noqa: F401  (registers /ticket new, /ticket sales)
import commands.queue  # noqa: F401  (registers the staff and customer subcommands)
import commands.summary  # noqa: F401  (summary, issue 7: registers /ticket summary)
from bot import logs, startup
from bot import dblock  # reliability (issue 8)
from urllib.parse import urlsplit  # security (issue 9): the database password is a secret
from bot.config import Settings
from bot.gateway import MattermostGateway
from bot.http import build_app
from bot.scheduling import Jobs, JobSpec
from bot.websocket import MattermostWebsocket
from commands import jobs, outbox, recovery, threads
from commands.deps import Background, Deps, Desk, DeskPolicy
from commands.directory import Directory, Group
from commands.router import ROUTERS
from commands.ports import ChatGateway
from commands.signing import Signer, derive_key
from commands.ratelimit import Limits  # security (issue 9)
import commands.sla.stats  # noqa: F401  SLA (issue 4): registers /ticket stats
from commands.sla.check import check_sla  # SLA (issue 4)
from commands.sla.service import SlaDesk  # SLA (issue 4)
import commands.oncall  # noqa: F401  on-call (issue 5): registers /oncall and the page buttons
from commands.oncall.paging import check_oncall  # on-call (issue 5)
from commands.oncall.service import OncallService, on_call_now, startup_warnings  # on-call (5)
import commands.escalation  # noqa: F401  escalation (issue 6): Escalate…, SET stage buttons, commands
from storage import db
from bot import schema  # memory (issue 10): Alembic is imported only when there is work to do
from storage.uow import SqlUnitOfWork
from bot.metrics import BotMetrics  # observability (issue 11)
from commands import logcontext  # observability (issue 11)
from commands import metrics as metric_hooks  # observability (issue 11)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


CURSOR_EVERY_S = 5.0  # reliability (issue 8): how often the websocket position is saved
OUTBOX_INTERVAL = timedelta(seconds=5)  # reliability (issue 8): how often failed sends retry


def system_clock() -> datetime:
    return datetime.now(UTC)


def build_sla(s: Settings) -> SlaDesk:
    """SLA (issue 4): the policy and business calendar from [sla], for deps.sla."""
    return SlaDesk(policy=s.sla.policy(), calendar=s.sla.calendar(),
                   fallback_timezone=s.sla.fallback_timezone, check_interval=s.sla.check_interval)


def build_oncall(s: Settings) -> OncallService:
    """On-call (issue 5): the rota and paging policy from [oncall], for deps.oncall."""
    from bot.webhook import AiohttpWebhook

    o = s.oncall
    return OncallService(rota=o.rota(), policy=o.policy(), mattermost_url=s.mattermost.url,
                         webhook=AiohttpWebhook(o.webhook_url) if o.webhook_url else None,
                         routing_key=o.routing_key)


def job_specs(s: Settings) -> list[JobSpec]:
    """Every scheduled job of every feature, with its schedule from the settings."""
    every = s.workflow.check_interval
    return [
        JobSpec("announce", jobs.finish_announcements, every=every),
        JobSpec("auto-close", jobs.close_solved, every=every),
        JobSpec("csat", jobs.ask_csat, every=every),
        # on-call first: it refreshes who is on call, which SLA notices mention
        JobSpec("oncall-check", check_oncall, every=s.oncall.check_interval),  # on-call (issue 5)
        JobSpec("sla-check", check_sla, every=s.sla.check_interval),  # SLA (issue 4)
        # summary (issue 7): the cron slot, and a catch-up check each interval (and at start)
        JobSpec("summary", commands.summary.post_scheduled,
                cron=commands.summary.SummaryPolicy.from_settings(s).schedule.cron()),
        JobSpec("summary-catch-up", commands.summary.post_scheduled, every=every),
        # reliability (issue 8): retries of the outbox, and what a stopped replica left behind
        JobSpec("outbox", outbox.deliver_due, every=OUTBOX_INTERVAL),
        JobSpec("outbox-prune", outbox.prune, cron={"hour": 3, "minute": 17}),
    ]


class SupportBot:
    """One bot process: HTTP callbacks, the websocket, background work; `start()` returns when ready."""

    def __init__(
        self, settings: Settings, *, clock: Clock = system_clock, gateway: ChatGateway | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        logs.add_secrets(settings.mattermost.token, settings.security.signing_key,  # issue 9
                         settings.security.previous_signing_key,
                         settings.oncall.webhook_url, settings.oncall.routing_key,
                         urlsplit(settings.database.url).password or "")
        self.gateway: Any = gateway or MattermostGateway(settings.mattermost.url, settings.mattermost.token)
        self.command_tokens: dict[str, str] = {}  # trigger -> token Mattermost sends
        self.background = Background()
        self.deps: Deps | None = None
        self.ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._ws: MattermostWebsocket | None = None
        self._ws_task: asyncio.Task[None] | None = None
        self._engine: Any = None
        self.jobs: Jobs | None = None
        self.run_scheduler = True  # tests drive jobs with an injected clock instead
        self.last_post_ms = 0  # create_at of the newest post seen on the websocket
        self.events_handled = 0  # posted events handled (a /metrics counter; the soak counts it)
        self._cursor_saved_at = float("-inf")  # reliability (issue 8): loop time of the last save
        self.metrics = BotMetrics(self)  # observability (issue 11): served at /metrics
        self._db_lock: Any = None  # reliability (issue 8): bot.dblock.SqliteLock while running

    @property
    def websocket(self) -> MattermostWebsocket | None:  # observability (issue 11)
        return self._ws

    async def start(self) -> None:
        s = self.settings
        url = db.normalise_url(s.database.url, s.config_dir)
        # --- reliability (issue 8): one process per SQLite file; released if start-up fails ---
        self._db_lock = dblock.acquire(url)
        try:
            await self._start_locked(s, url)
        except BaseException:
            self._release_db_lock()
            raise

    def _release_db_lock(self) -> None:  # reliability (issue 8)
        lock, self._db_lock = self._db_lock, None
        if lock is not None:
            lock.release()

    async def _start_locked(self, s: Settings, url: str) -> None:  # reliability (issue 8)
        # --- end reliability ---
        await schema.ensure_current(url)  # memory (issue 10): storage.migrate.upgrade if behind
        self._engine = db.create_engine(url)
        sessions = db.session_factory(self._engine)
        me = await startup.check_token(self.gateway, s.mattermost.url)
        team = await startup.resolve_team(self.gateway, s.mattermost.team)
        channels = {
            key: await startup.resolve_channel(self.gateway, team, key, name, me["id"])
            for key, name in s.channels.model_dump().items()
        }
        desk = Desk(
            bot_user_id=me["id"], team_id=team["id"], team_name=team["name"],
            support_channel_id=channels["customer_support"]["id"],
            standup_channel_id=channels["support_standup"]["id"],
            engineering_channel_id=channels["sustained_engineering"]["id"],
            public_url=s.server.public_url.rstrip("/"),
            customers=tuple(s.customer_list()),
        )
        signer = Signer(
            derive_key(s.security.signing_key, fallback=s.mattermost.token),
            derive_key(s.security.previous_signing_key, fallback="") if s.security.previous_signing_key else b"",
        )
        w = s.workflow
        directory = Directory(
            gateway=self.gateway, bot_id=me["id"], clock=self.clock,
            staff=Group(w.staff, desk.support_channel_id),
            sustained=Group(s.escalation.set_members, desk.engineering_channel_id),
            admins=Group(w.admins, desk.support_channel_id),
        )
        oncall = build_oncall(s)  # on-call (issue 5)
        directory.oncall_ids = oncall.oncall_ids  # on-call (issue 5): who holds the ONCALL role
        for warning in startup_warnings(oncall, self.clock()):  # on-call (issue 5): gaps in cover
            log.warning("%s", warning)
        policy = DeskPolicy(
            reply_prefix=w.reply_prefix, solved_close_after=w.solved_close_after,
            csat_send_after=s.csat.send_after, csat_after_status=s.csat.after_status,
            # security (issue 9): attachment relay caps from [security]
            max_relay_files=s.security.relay_max_files,
            max_relay_bytes=s.security.relay_max_mb * 1024 * 1024,
        )
        self.deps = Deps(
            gateway=self.gateway, uow=lambda: SqlUnitOfWork(sessions), clock=self.clock,
            desk=desk, signer=signer, background=self.background, directory=directory,
            policy=policy,
            sla=build_sla(s),  # SLA (issue 4)
            oncall=oncall,  # on-call (issue 5)
            escalation=commands.escalation.EscalationOptions(  # escalation (issue 6)
                site_url=s.mattermost.url.rstrip("/")),
            summary=commands.summary.SummaryPolicy.from_settings(s),  # summary (issue 7)
            limits=Limits.from_rates(  # security (issue 9): per-user rate limits
                commands_per_minute=s.security.commands_per_minute,
                intake_per_hour=s.security.intake_per_hour),
        )
        self.jobs = Jobs(job_specs(s), self.deps,  # replicas (issue 8): job leases; SQLite has
                         solo=db.is_sqlite(url))  # one process, so others' leases are stale
        if db.is_sqlite(url):  # reliability (issue 8): the file lock says nobody else delivers
            await outbox.release_leases(self.deps, everyone=True)
        async with self.deps.uow() as uow:
            await uow.customers.replace_all(desk.customers)
            await uow.commit()
        await self._start_http()
        self.command_tokens = await startup.register_commands(
            self.gateway, team["id"], desk.public_url, ROUTERS.values())
        logs.add_secrets(*self.command_tokens.values())  # security (issue 9)
        self.last_post_ms = await recovery.saved_cursor(self.deps)  # reliability (issue 8)
        await self._start_websocket()
        if self.last_post_ms:  # reliability (issue 8): what was written while no bot listened
            self.background.spawn(self.on_resync(), name="recover-downtime")
        await self._know_who_is_on_call()  # before any job or callback asks
        self.background.spawn(self.jobs.run_all(interval_only=True), name="first-run")
        if self.run_scheduler:
            self.jobs.start()
        self.metrics.bind_hooks()  # observability (issue 11)
        self.ready.set()
        log.info("support desk ready: team %s, listening on %s:%s",
                 team["name"], s.server.host, s.server.port)

    async def _start_http(self) -> None:
        self._runner = web.AppRunner(build_app(self), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.server.host, self.settings.server.port)
        await site.start()

    async def _start_websocket(self) -> None:
        self._ws = MattermostWebsocket(
            self.settings.mattermost.url, self.settings.mattermost.token, self.on_event,
            on_resync=self.on_resync,
        )
        self._ws_task = asyncio.create_task(self._ws.run(), name="websocket")
        connected = asyncio.create_task(self._ws.connected.wait())
        done, _ = await asyncio.wait({connected, self._ws_task}, timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)
        if connected not in done:
            connected.cancel()
            if self._ws_task in done and self._ws_task.exception() is not None:
                raise startup.StartupError(f"mattermost: websocket failed: {self._ws_task.exception()}")
            raise startup.StartupError("mattermost: the websocket did not connect within 30 s")

    async def on_event(self, event: dict[str, Any]) -> None:
        """Websocket events: posts in ticket threads go to the ticket workflow."""
        if event.get("event") != "posted" or self.deps is None:
            return
        data = event.get("data") or {}
        try:
            post = json.loads(data.get("post") or "{}")
        except ValueError:
            log.warning("undecodable posted event ignored")
            return
        if post.get("id"):
            self.last_post_ms = max(self.last_post_ms, int(post.get("create_at", 0)))
            with logcontext.serving(logcontext.new_request_id("ws-")):  # issue 11: log context
                # reliability (issue 8): a database restart delays the post, in order; the post
                # claim makes a retry after a half-done attempt a no-op (see docs/reliability.md)
                deps, kind = self.deps, str(data.get("channel_type", ""))
                await db.retry_while_unavailable(lambda: threads.on_posted(post, kind, deps),
                                                 what=f"posted event {post['id']}")
            if post.get("user_id") != self.deps.desk.bot_user_id:  # people's posts, not ours
                self.events_handled += 1  # observability: /metrics supportbot_websocket_events
            self._save_cursor_now_and_then()  # reliability (issue 8)

    async def on_resync(self) -> None:
        """A new websocket session after a gap: re-read ticket threads since the last post seen."""
        if self.deps is not None and self.last_post_ms:
            deps, since = self.deps, self.last_post_ms  # reliability (issue 8): retried likewise
            await db.retry_while_unavailable(lambda: recovery.recover(deps, since),
                                             what="websocket gap recovery")

    async def _know_who_is_on_call(self) -> None:
        """On-call (issue 5): the ONCALL role and SLA mentions read a cache the on-call check
        refreshes; fill it at start, or a restarted bot would say "@here" until that check ran."""
        if self.deps is None or not self.deps.oncall.enabled:
            return
        try:
            await on_call_now(self.deps, self.clock())
        except Exception as exc:  # noqa: BLE001 - the first on-call check retries it
            log.warning("who is on call could not be read at start (%s)", exc)

    def _save_cursor_now_and_then(self) -> None:  # reliability (issue 8)
        """Persist how far the websocket got, at most every CURSOR_EVERY_S; a restart re-reads
        from there (minus a margin), and posts are claimed, so re-reading a little is harmless."""
        now = asyncio.get_running_loop().time()
        if self.deps is None or now - self._cursor_saved_at < CURSOR_EVERY_S:
            return
        self._cursor_saved_at = now
        self.background.spawn(self._save_cursor(), name="save-ws-cursor")

    async def _save_cursor(self) -> None:  # reliability (issue 8)
        if self.deps is None or not self.last_post_ms:
            return
        try:
            await recovery.save_cursor(self.deps, self.last_post_ms)
        except Exception as exc:  # noqa: BLE001 - the next event tries again
            log.warning("websocket cursor not saved (%s)", type(exc).__name__)

    async def _give_back_leases(self) -> None:  # reliability (issue 8)
        assert self.deps is not None
        try:
            await outbox.release_leases(self.deps)
        except Exception as exc:  # noqa: BLE001 - they expire on their own
            log.warning("could not give back outbox leases (%s); they expire", type(exc).__name__)

    async def health(self) -> dict[str, bool]:
        mattermost = bool(self._ws and self._ws.is_connected)
        database = bool(self._engine) and await db.ping(self._engine)
        return {"mattermost": mattermost, "database": database}

    async def stop(self) -> None:
        """Stop taking callbacks, finish in-flight work, close the websocket with a close frame."""
        metric_hooks.reset()  # observability (issue 11): counters stop with the bot
        if self.jobs is not None:
            self.jobs.stop()
        if self._runner is not None:
            await self._runner.shutdown()
        await self.background.drain()
        if self.deps is not None:  # reliability (issue 8): what was in flight goes to the others
            await self._give_back_leases()
            await self._save_cursor()
        if self._ws is not None:
            await self._ws.stop()
        if self._ws_task is not None:
            self._ws_task.cancel()
            await asyncio.gather(self._ws_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if hasattr(self.gateway, "close"):
            await self.gateway.close()
        webhook = getattr(self.deps.oncall, "webhook", None) if self.deps else None  # on-call (5)
        if webhook is not None and hasattr(webhook, "close"):
            await webhook.close()
        if self._engine is not None:
            await self._engine.dispose()
        self._release_db_lock()  # reliability (issue 8): the SQLite file is free for the next bot
