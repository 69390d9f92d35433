"""Property-based fuzzing of every HTTP entry point and the command parser.

Arbitrary payloads -> never a 500, never a traceback or an "unexpected error" in the reply, never
an unhandled exception in the log, always a well-formed Mattermost response for the route.

The default run tries FUZZ_DEFAULT examples per endpoint. `pytest -m fuzz tests/security` tries
SUPPORTBOT_FUZZ_EXAMPLES (default 10,000) per endpoint. The bot's aiohttp app runs in-process
(aiohttp TestServer/TestClient) on an event loop in a helper thread, with the emulator behind it
as Mattermost; Hypothesis drives it synchronously from the test thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.http import build_app
from commands.queue import parse_filters
from commands.ports import TicketQuery
from tests.security.conftest import UNLIMITED
from tests.wire.harness import Desk, seeded_desk
from tests.wire.workflow_helpers import FORM
from workflows import lifecycle, text

FUZZ_DEFAULT = 50
FUZZ_LONG = int(os.environ.get("SUPPORTBOT_FUZZ_EXAMPLES", "10000"))


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])


# --- the desk on its own loop ------------------------------------------------------------------

class _Problems(logging.Handler):
    """Counts log records that mean an unhandled error reached the edge or a background task."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class FuzzEnv:
    loop: asyncio.AbstractEventLoop
    desk: Desk
    client: TestClient
    problems: _Problems
    token: str = ""
    users: dict[str, str] = field(default_factory=dict)
    tickets: list[int] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        assert self.desk.bot is not None and self.desk.bot.deps is not None
        return self.desk.bot.deps.signer.sign(purpose, payload, now=self.desk.clock(),
                                              ttl=timedelta(hours=1))

    def resolve(self, value: Any) -> Any:
        """Replace placeholders drawn by the strategies with live ids, tokens and signatures."""
        if isinstance(value, dict):
            return {self.resolve(k) if isinstance(k, str) else k: self.resolve(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str) or "<" not in value:
            return value
        return _PLACEHOLDER.sub(lambda m: self._live(m.group(1), m.group(2)), value)

    def _live(self, kind: str, rest: str) -> str:
        if kind == "TOKEN":
            return self.token
        if kind == "USER":
            return self.users.get(rest, rest)
        if kind == "TICKET":
            return str(self.tickets[int(rest) % len(self.tickets)])
        if kind == "CARD":
            return self.cards[int(rest) % len(self.cards)]
        if kind == "SIG":  # <SIG:purpose|user|ticket-index>
            purpose, user, idx = rest.split("|")
            payload: dict[str, Any] = {"u": self.users.get(user, user),
                                       "t": self.tickets[int(idx) % len(self.tickets)]}
            if purpose == "intake":
                payload = {"u": self.users.get(user, user), "f": "technical",
                           "n": os.urandom(8).hex(), "l": None}
            if purpose == "dialog:csat":
                payload["r"] = "good"
            return self.sign(purpose, payload)
        raise AssertionError(kind)


_PLACEHOLDER = re.compile(r"<(TOKEN|USER|TICKET|CARD|SIG):([^<>]*)>")


async def _start(tmp: Path) -> tuple[Desk, TestClient]:
    desk = await seeded_desk(f"sqlite:///{tmp / 'fuzz.db'}")
    await desk.start_bot(security=UNLIMITED)
    for user in ("alice", "gina"):
        await desk.run(user, "/ticket new")
        result = await desk.emu.submit_dialog(desk.user(user), {**FORM, "cc": "carol"})
        assert result.body in ({}, None), result.body
    await desk.settle()
    client = TestClient(TestServer(build_app(desk.bot)))
    await client.start_server()
    return desk, client


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzz-loop", daemon=True)
    thread.start()
    problems = _Problems()
    watched = [logging.getLogger(n) for n in ("bot.http", "commands.deps", "bot.websocket")]
    for logger in watched:
        logger.addHandler(problems)
    desk, client = asyncio.run_coroutine_threadsafe(
        _start(tmp_path_factory.mktemp("fuzz")), loop).result(120)
    e = FuzzEnv(loop, desk, client, problems)
    assert desk.bot is not None and desk.bot.deps is not None
    e.token = desk.bot.command_tokens["ticket"]
    e.users = {name: u.id for name, u in desk.users.items()}

    async def tickets() -> list[Any]:
        from tests.wire.workflow_helpers import all_tickets

        return await all_tickets(desk)

    found = e.run(tickets())
    e.tickets = [t.id for t in found]
    e.cards = [t.card_post_id for t in found]
    try:
        yield e
    finally:
        async def stop() -> None:
            await client.close()
            await desk.stop_bot()
            await desk.emu.stop()

        e.run(stop(), timeout=120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        for logger in watched:
            logger.removeHandler(problems)


# --- strategies ----------------------------------------------------------------------------------

USERS = st.sampled_from(["<USER:alice>", "<USER:carol>", "<USER:sam>", "<USER:tess>",
                         "<USER:dave>", "<USER:gina>", "<USER:supportbot>"])
USER_IDS = st.one_of(USERS, st.text(max_size=30))
TICKET_REFS = st.one_of(st.integers(0, 5).map(lambda i: f"<TICKET:{i}>"),
                        st.integers(-10**20, 10**20).map(str),
                        st.text(alphabet="#0123456789", max_size=25))
WORDS = st.sampled_from([
    "new", "sales", "list", "show", "take", "assign", "status", "priority", "reply", "note",
    "hold", "help", "on", "off", "all", "me", "none", "urgent", "high", "normal", "low", "open",
    "pending", "solved", "closed", "premium", "enterprise", "noplan", "@sam", "@dave", "@",
    "@all", "@channel", "<!channel>", "summary", "oncall", "escalate", "sla", "stats", "transfer",
    "7d", "1h", "2026-03-03", "|", "`", "```", "[x](http://e)", "\x00", "\u202e", "\n",
])
FREE = st.text(max_size=120)
COMMAND_TEXT = st.lists(st.one_of(WORDS, TICKET_REFS, FREE), max_size=7).map(" ".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12,
)
TRIGGERS = st.one_of(st.sampled_from(["/ticket", "/TICKET", "/Ticket", "ticket", "/oncall",
                                      "/other", ""]), st.text(max_size=20))


@st.composite
def command_requests(draw: st.DrawFn) -> dict[str, Any]:
    form = {
        "token": draw(st.one_of(st.just("<TOKEN:>"), st.just("<TOKEN:>"), st.text(max_size=40))),
        "command": draw(TRIGGERS),
        "text": draw(COMMAND_TEXT),
        "user_id": draw(USER_IDS),
        "user_name": draw(st.text(max_size=20)),
        "channel_id": draw(st.text(max_size=30)),
        "team_id": draw(st.text(max_size=30)),
        "trigger_id": draw(st.text(max_size=40)),
        "response_url": draw(st.text(max_size=40)),
    }
    extra = draw(st.dictionaries(  # the client refuses control characters in field names
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=15),
        st.text(max_size=30), max_size=3))
    mode = draw(st.sampled_from(["form", "form", "form", "get", "header", "raw"]))
    raw = draw(st.binary(max_size=300)) if mode == "raw" else b""
    ctype = draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json",
                                  "text/plain", "multipart/form-data", ""]))
    return {"form": {**extra, **form}, "mode": mode, "raw": raw, "ctype": ctype}


CALLBACKS = st.one_of(st.sampled_from(["ticket.intake", "ticket.reply", "ticket.assign",
                                       "ticket.priority", "csat.comment", "oncall.override",
                                       "escalation.open", ""]), st.text(max_size=20))
PURPOSES = st.sampled_from(["intake", "dialog:reply", "dialog:assign", "dialog:priority",
                            "dialog:csat", "action:take", "dialog:oncall", "dialog:escalate"])
FIELDS = ["cc", "subject", "priority", "category", "description", "environment",
          "mattermost_version", "mobile_version", "mobile_device", "message", "assignee",
          "comment", "reason", "start", "end", "user"]


@st.composite
def states(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        user = draw(st.sampled_from(["alice", "sam", "dave", "carol"]))
        return f"<SIG:{draw(PURPOSES)}|{user}|{draw(st.integers(0, 5))}>"
    return draw(st.text(max_size=80))


@st.composite
def dialog_requests(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {"raw": draw(st.one_of(st.binary(max_size=200),
                                      JSON.map(lambda v: json.dumps(v).encode())))}
    valid_values = st.one_of(st.sampled_from(list(FORM.values()) + ["<USER:sam>", "urgent"]),
                             JSON)
    body: dict[str, Any] = {
        "type": draw(st.one_of(st.just("dialog_submission"), JSON)),
        "callback_id": draw(st.one_of(CALLBACKS, JSON)),
        "state": draw(st.one_of(states(), states(), JSON)),
        "user_id": draw(st.one_of(USER_IDS, USER_IDS, JSON)),
        "channel_id": draw(st.text(max_size=30)),
        "team_id": draw(st.text(max_size=30)),
        "submission": draw(st.one_of(
            st.dictionaries(st.sampled_from(FIELDS), valid_values, max_size=12),
            st.just(dict(FORM)), JSON)),
        "cancelled": draw(st.one_of(st.booleans(), JSON)),
    }
    drop = draw(st.sets(st.sampled_from(list(body)), max_size=3))
    return {"json": {k: v for k, v in body.items() if k not in drop}}


ACTION_NAMES = st.sampled_from(["take", "assign", "reply", "pending", "solved", "reopen",
                                "priority", "followup", "csatgood", "csatbad", "ack", "escalate",
                                ""])


@st.composite
def action_requests(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {"raw": draw(st.one_of(st.binary(max_size=200),
                                      JSON.map(lambda v: json.dumps(v).encode())))}
    name = draw(ACTION_NAMES)
    user = draw(st.sampled_from(["alice", "sam", "dave", "carol"]))
    idx = draw(st.integers(0, 5))
    context = draw(st.one_of(
        st.just({"action": name, "sig": f"<SIG:action:{name}|{user}|{idx}>"}),
        st.fixed_dictionaries({"action": st.one_of(ACTION_NAMES, JSON),
                               "sig": st.one_of(states(), JSON)}),
        JSON,
    ))
    body: dict[str, Any] = {
        "user_id": draw(st.one_of(st.just(f"<USER:{user}>"), USER_IDS, JSON)),
        "user_name": draw(st.text(max_size=20)),
        "channel_id": draw(st.text(max_size=30)),
        "post_id": draw(st.one_of(st.integers(0, 5).map(lambda i: f"<CARD:{i}>"),
                                  st.text(max_size=30), JSON)),
        "trigger_id": draw(st.text(max_size=30)),
        "type": draw(st.sampled_from(["button", "select", ""])),
        "context": context,
    }
    drop = draw(st.sets(st.sampled_from(list(body)), max_size=2))
    return {"json": {k: v for k, v in body.items() if k not in drop}}


# --- the checks ------------------------------------------------------------------------------------

def _no_leak(raw: str) -> None:
    for marker in ("Traceback", 'File "/', "Something went wrong on our side", "Error:"):
        assert marker not in raw, raw[:500]


def _problems(env: FuzzEnv, before: int) -> None:
    new = env.problems.records[before:]
    assert not new, [r.getMessage() for r in new]


async def _send_command(env: FuzzEnv, req: dict[str, Any]) -> tuple[int, str]:
    form = env.resolve(req["form"])
    c = env.client
    if req["mode"] == "get":
        resp = await c.get("/mattermost/command", params=form)
    elif req["mode"] == "header":
        token = "".join(ch for ch in form.pop("token", "") if 32 <= ord(ch) < 127)  # sendable
        resp = await c.post("/mattermost/command", data=form,
                            headers={"Authorization": f"Token {token}"})
    elif req["mode"] == "raw":
        headers = {"Content-Type": req["ctype"]} if req["ctype"] else {}
        resp = await c.post("/mattermost/command", data=req["raw"], headers=headers)
    else:
        resp = await c.post("/mattermost/command", data=form)
    async with resp:
        return resp.status, await resp.text()


def _check_command(env: FuzzEnv, req: dict[str, Any]) -> None:
    before = len(env.problems.records)
    status, raw = env.run(_send_command(env, req))
    _no_leak(raw)
    body = json.loads(raw)
    assert isinstance(body, dict)
    if status == 401:
        assert body == {"text": "unauthorized"}
    else:
        assert status == 200, (status, raw[:300])
        if body:
            assert isinstance(body.get("text"), str) and body["text"]
            assert body.get("response_type") in ("ephemeral", "in_channel")
    env.run(env.desk.bot.background.drain())  # type: ignore[union-attr]
    _problems(env, before)


async def _post_json(env: FuzzEnv, path: str, req: dict[str, Any]) -> tuple[int, str]:
    if "raw" in req:
        resp = await env.client.post(path, data=req["raw"],
                                     headers={"Content-Type": "application/json"})
    else:
        resp = await env.client.post(path, json=env.resolve(req["json"]))
    async with resp:
        return resp.status, await resp.text()


def _check_dialog(env: FuzzEnv, req: dict[str, Any]) -> None:
    before = len(env.problems.records)
    status, raw = env.run(_post_json(env, "/mattermost/dialog", req))
    _no_leak(raw)
    assert status == 200, (status, raw[:300])
    body = json.loads(raw) if raw.strip() else {}
    assert isinstance(body, dict) and set(body) <= {"error", "errors"}, body
    if "error" in body:
        assert isinstance(body["error"], str) and body["error"]
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"]
        assert all(isinstance(k, str) and isinstance(v, str) and v
                   for k, v in body["errors"].items())
    env.run(env.desk.bot.background.drain())  # type: ignore[union-attr]
    _problems(env, before)


def _check_action(env: FuzzEnv, req: dict[str, Any]) -> None:
    before = len(env.problems.records)
    status, raw = env.run(_post_json(env, "/mattermost/action", req))
    _no_leak(raw)
    assert status == 200, (status, raw[:300])
    body = json.loads(raw) if raw.strip() else {}
    assert isinstance(body, dict)
    assert set(body) <= {"update", "ephemeral_text", "skip_slack_parsing"}, body
    if "ephemeral_text" in body:
        assert isinstance(body["ephemeral_text"], str) and body["ephemeral_text"]
    if "update" in body:
        assert isinstance(body["update"], dict) and isinstance(body["update"].get("message"), str)
    env.run(env.desk.bot.background.drain())  # type: ignore[union-attr]
    _problems(env, before)


PROBES = st.fixed_dictionaries({
    "path": st.sampled_from(["/healthz", "/healthz", "/readyz"]),
    "params": st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3),
    "headers": st.dictionaries(
        st.sampled_from(["X-Forwarded-For", "Authorization", "Accept", "X-Request-ID", "Cookie"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
        max_size=3),
})


async def _probe(env: FuzzEnv, req: dict[str, Any]) -> tuple[int, str]:
    async with await env.client.get(req["path"], params=req["params"],
                                    headers=req["headers"]) as resp:
        return resp.status, await resp.text()


def _check_probe(env: FuzzEnv, req: dict[str, Any]) -> None:
    status, raw = env.run(_probe(env, req))
    _no_leak(raw)
    assert status in (200, 503), (status, raw)
    secrets = [env.token, env.desk.token, env.desk.emu.url, env.desk.db_url]
    assert not any(s in raw for s in secrets)
    if req["path"] == "/healthz":
        assert set(json.loads(raw)) == {"status", "mattermost", "database"}


def _check_parser(words: list[str], user_id: str) -> None:
    query = parse_filters(words, user_id)
    assert isinstance(query, TicketQuery) and query.limit == 25
    for word in words:
        parsed = text.parse_ticket_id(word)
        assert parsed is None or 0 < parsed < 10**18
        lifecycle.status_for_command(word)
        try:
            text.parse_duration(word)
        except ValueError:
            pass
    line = " ".join(words)
    for f in (text.inline, text.block, text.quote):
        out = f(line)
        assert "@all" not in out and "@channel" not in out and "\x00" not in out


# --- default run: a handful per endpoint ----------------------------------------------------------

@_settings(FUZZ_DEFAULT)
@given(req=command_requests())
def test_fuzz_command(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_command(env, req)


@_settings(FUZZ_DEFAULT)
@given(req=dialog_requests())
def test_fuzz_dialog(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_dialog(env, req)


@_settings(FUZZ_DEFAULT)
@given(req=action_requests())
def test_fuzz_action(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_action(env, req)


@_settings(FUZZ_DEFAULT)
@given(req=PROBES)
def test_fuzz_health_probes(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_probe(env, req)


@_settings(FUZZ_DEFAULT * 4)
@given(words=st.lists(st.one_of(WORDS, TICKET_REFS, FREE), max_size=8), user_id=st.text(max_size=30))
def test_fuzz_command_parser(words: list[str], user_id: str) -> None:
    _check_parser(words, user_id)


# --- the long run: pytest -m fuzz tests/security ------------------------------------------------------

@pytest.mark.fuzz
@_settings(FUZZ_LONG)
@given(req=command_requests())
def test_fuzz_command_long(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_command(env, req)


@pytest.mark.fuzz
@_settings(FUZZ_LONG)
@given(req=dialog_requests())
def test_fuzz_dialog_long(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_dialog(env, req)


@pytest.mark.fuzz
@_settings(FUZZ_LONG)
@given(req=action_requests())
def test_fuzz_action_long(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_action(env, req)


@pytest.mark.fuzz
@_settings(FUZZ_LONG)
@given(req=PROBES)
def test_fuzz_health_probes_long(env: FuzzEnv, req: dict[str, Any]) -> None:
    _check_probe(env, req)


@pytest.mark.fuzz
@_settings(FUZZ_LONG)
@given(words=st.lists(st.one_of(WORDS, TICKET_REFS, FREE), max_size=8), user_id=st.text(max_size=30))
def test_fuzz_command_parser_long(words: list[str], user_id: str) -> None:
    _check_parser(words, user_id)
