"""The HTTP edge: Mattermost's callbacks (command, dialog, action) and /healthz.

Each handler verifies, parses, dispatches and translates; one middleware turns failures into
a clear answer for the user (never a traceback) and a log line carrying the same error id.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import observability  # issue 11
from storage import db  # reliability (issue 8): is_unavailable

from commands import ratelimit, replies
from commands.actions import ACTIONS
from commands.models import ActionClick, ActionResult, DialogResult, DialogSubmission, Reply, SlashCommand
from commands.router import DIALOGS, ROUTERS

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Mattermost itself caps integration payloads well below this
COMMAND_PATH = "/mattermost/command"
DIALOG_PATH = "/mattermost/dialog"
ACTION_PATH = "/mattermost/action"

BOT = web.AppKey("bot", Any)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _failure_body(path: str, text: str) -> dict[str, Any]:
    """The same sentence in the shape each callback kind can show."""
    if path == DIALOG_PATH:
        return DialogResult.refused(text).as_mattermost()
    if path == ACTION_PATH:
        return ActionResult(ephemeral_text=text).as_mattermost()
    return Reply.ephemeral(text).as_mattermost()


# security (issue 9): Mattermost shows a callback's answer only when it is a 200 with a JSON body,
# so refusals of malformed or oversized callbacks are answered in the shape the caller can show.
CALLBACK_PATHS = frozenset({COMMAND_PATH, DIALOG_PATH, ACTION_PATH})
TOO_LARGE = "That request is too large for the support desk (the limit is 1 MiB)."
MALFORMED = "The support desk could not read that request, so nothing was done."


def _refused_http(request: web.Request, exc: web.HTTPException) -> web.StreamResponse | None:
    if request.path not in CALLBACK_PATHS or exc.status not in (400, 413):
        return None
    log.warning("%s refused with %s: %s", request.path, exc.status, exc.reason)
    if exc.status == 413:
        return web.json_response(_failure_body(request.path, TOO_LARGE))
    if request.path == DIALOG_PATH:
        return web.json_response(DialogResult.refused(replies.STATE_REFUSED).as_mattermost())
    if request.path == ACTION_PATH:
        return web.json_response(ActionResult(ephemeral_text=replies.ACTION_REFUSED).as_mattermost())
    return web.json_response(Reply.ephemeral(MALFORMED).as_mattermost())


def _loggable(value: object) -> str:
    """Unauthenticated input in a log line: short and repr-quoted (no forged log lines)."""
    return repr(str(value)[:40])


@web.middleware
async def report_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if (clean := _refused_http(request, exc)) is not None:
            return clean
        raise
    except (OperationalError, DBAPIError, ConnectionError, TimeoutError):
        error_id = secrets.token_hex(4)
        log.exception("database or network unavailable (%s) on %s", error_id, request.path)
        return web.json_response(_failure_body(request.path, replies.temporarily_unavailable()))
    except Exception as exc:
        error_id = secrets.token_hex(4)
        if db.is_unavailable(exc):  # reliability (issue 8): pool timeout, a driver's own errors
            log.exception("database unavailable (%s) on %s", error_id, request.path)
            return web.json_response(_failure_body(request.path, replies.temporarily_unavailable()))
        log.exception("unhandled error %s on %s", error_id, request.path)
        return web.json_response(_failure_body(request.path, replies.unexpected(error_id)))


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="expected a JSON body") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _form_body(request: web.Request) -> dict[str, Any]:
    """The command form; a body that isn't one (bad encoding, broken multipart) is a 400."""
    try:
        return dict(await request.post())
    except ValueError:  # UnicodeDecodeError included  (security, issue 9: found by fuzzing)
        raise web.HTTPBadRequest(text="malformed form body") from None


async def slash_command(request: web.Request) -> web.Response:
    bot = request.app[BOT]
    form: dict[str, Any] = dict(request.query) if request.method == "GET" else await _form_body(request)
    header = request.headers.get("Authorization", "")
    token = header[6:].strip() if header.lower().startswith("token ") else str(form.get("token", ""))
    trigger = str(form.get("command", "")).lstrip("/").lower()
    expected = bot.command_tokens.get(trigger, "")
    if not expected or not secrets.compare_digest(token.encode(), expected.encode()):
        log.warning("slash command /%s refused: wrong or missing token (user %s)",
                    _loggable(trigger), _loggable(form.get("user_id")))
        return web.json_response({"text": "unauthorized"}, status=401)
    try:
        cmd = SlashCommand.model_validate(form)
    except ValidationError:
        raise web.HTTPBadRequest(text="malformed command request") from None
    if (limited := _rate_limited(cmd, bot.deps)) is not None:  # security (issue 9)
        return web.json_response(limited.as_mattermost())
    reply = await ROUTERS[trigger].dispatch(cmd, bot.deps)
    return web.json_response(reply.as_mattermost())


def _rate_limited(cmd: SlashCommand, deps: Any) -> Reply | None:
    """Per-user command limit, checked after the token (so only real users spend it)."""
    limits = getattr(deps, "limits", None)
    if limits is None:
        return None
    wait = limits.commands.take(cmd.user_id, deps.clock())
    if wait is None:
        return None
    log.info("rate-limited /%s by %s", cmd.command.lstrip("/")[:32], _loggable(cmd.user_id))
    return Reply.ephemeral(ratelimit.too_many_commands(wait))


async def dialog_submission(request: web.Request) -> web.Response:
    bot = request.app[BOT]
    try:
        sub = DialogSubmission.model_validate(await _json_body(request))
    except ValidationError:
        log.warning("malformed dialog submission refused")
        return web.json_response(DialogResult.refused(replies.STATE_REFUSED).as_mattermost())
    result = await DIALOGS.dispatch(sub, bot.deps)
    return web.json_response(result.as_mattermost())


async def action_click(request: web.Request) -> web.Response:
    bot = request.app[BOT]
    try:
        click = ActionClick.model_validate(await _json_body(request))
    except ValidationError:
        log.warning("malformed action click refused")
        return web.json_response(ActionResult(ephemeral_text=replies.ACTION_REFUSED).as_mattermost())
    result = await ACTIONS.dispatch(click, bot.deps)
    return web.json_response(result.as_mattermost())


async def healthz(request: web.Request) -> web.Response:
    """200 when Mattermost and the database are reachable, 503 "degraded" otherwise (issue 2)."""
    bot = request.app[BOT]
    health = await bot.health()
    ok = health["mattermost"] and health["database"]
    body = {"status": "ok" if ok else "degraded", **health}
    return web.json_response(body, status=200 if ok else 503)


# --- observability (issue 11): request ids, /readyz, /metrics ---
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"


async def readyz(request: web.Request) -> web.Response:
    return await observability.readyz(request, request.app[BOT])


async def metrics(request: web.Request) -> web.Response:
    bot_metrics = getattr(request.app[BOT], "metrics", None)
    if bot_metrics is None:
        raise web.HTTPNotFound(text="metrics are not enabled")
    return await bot_metrics.handle(request)


def _observer(bot: Any) -> Callable[[str, float], None] | None:
    bot_metrics = getattr(bot, "metrics", None)
    if bot_metrics is None:
        return None

    def observe(route: str, seconds: float) -> None:
        if route in CALLBACK_PATHS:  # only Mattermost's callbacks: probes would drown them
            bot_metrics.observe_callback(route, seconds)

    return observe
# --- end observability ---


def build_app(bot: Any) -> web.Application:
    request_context = observability.make_request_context(_observer(bot))  # issue 11
    app = web.Application(middlewares=[request_context, report_errors], client_max_size=MAX_BODY)
    app[BOT] = bot
    app.router.add_post(COMMAND_PATH, slash_command)
    app.router.add_get(COMMAND_PATH, slash_command)
    app.router.add_post(DIALOG_PATH, dialog_submission)
    app.router.add_post(ACTION_PATH, action_click)
    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_get(READY_PATH, readyz)  # issue 11
    app.router.add_get(METRICS_PATH, metrics)  # issue 11
    app.on_response_prepare.append(_hide_server_version)  # security (issue 9)
    return app


async def _hide_server_version(request: web.Request, response: web.StreamResponse) -> None:
    """Don't advertise the Python and aiohttp versions to whoever can reach the bot."""
    response.headers["Server"] = "supportbot"
