"""Fixtures: a running emulator with a seeded team, an HTTP client and a fake bot app."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
import pytest_asyncio
from aiohttp import web

from emulator import Emulator


@pytest_asyncio.fixture
async def emu():
    server = Emulator(host="127.0.0.1", port=0, ws_auth_timeout=1.0)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def world(emu):
    team = emu.create_team("main", display_name="Main")
    alice = emu.create_user("alice", email="alice@acme.com")
    bob = emu.create_user("bob", email="bob@acme.com")
    emu.add_team_member(team, alice)
    emu.add_team_member(team, bob)
    bot, token = emu.create_bot("supportbot", team=team, team_admin=True)
    channel = emu.create_channel(team, "customer-support", display_name="Customer Support",
                                 members=[alice, bob, bot])
    return SimpleNamespace(team=team, alice=alice, bob=bob, bot=bot, token=token,
                           channel=channel, alice_token=emu.create_token(alice))


@pytest_asyncio.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Tiny REST helper: returns (status, json-or-text, headers)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None) -> None:
        self.session, self.base, self.token = session, base + "/api/v4", token

    async def call(self, method: str, path: str, body=None, token: str | None = "default",
                   **kwargs):
        token = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = json.dumps(body) if body is not None else None
        async with self.session.request(method, self.base + path, data=data, headers=headers,
                                        **kwargs) as resp:
            raw = await resp.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode()
            return resp.status, payload, resp.headers


@pytest_asyncio.fixture
async def api(emu, world, http):
    return Api(http, emu.url, world.token)


@dataclass
class FakeBot:
    """An aiohttp app standing in for the bot's callback server."""

    url: str = ""
    requests: list = field(default_factory=list)
    replies: dict = field(default_factory=dict)  # path -> (status, content_type, body)
    delays: dict = field(default_factory=dict)  # path -> seconds to wait before answering

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(SimpleNamespace(path=request.path, method=request.method,
                                             headers=dict(request.headers), raw=raw,
                                             query=request.query_string))
        await asyncio.sleep(self.delays.get(request.path, 0))
        status, ctype, body = self.replies.get(request.path, (200, "application/json", "{}"))
        return web.Response(status=status, body=body.encode(),
                            headers={"Content-Type": ctype})


@pytest_asyncio.fixture
async def fakebot():
    bot = FakeBot()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bot.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bot.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield bot
    await runner.cleanup()
