"""Injected failures and delays for chosen REST paths."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import AppError


@dataclass
class _Rule:
    pattern: re.Pattern
    method: str | None
    status: int = 503
    times: int | None = None
    until: float | None = None
    body: Any = None
    retry_after: float | None = None
    seconds: float = 0.0

    def matches(self, request: web.Request) -> bool:
        if self.method and request.method.upper() != self.method.upper():
            return False
        if self.until is not None and time.monotonic() > self.until:
            return False
        if self.times is not None and self.times <= 0:
            return False
        return bool(self.pattern.search(request.path))


class Faults:
    """`fail` answers with an error instead of the handler; `delay` sleeps first."""

    def __init__(self) -> None:
        self._fails: list[_Rule] = []
        self._delays: list[_Rule] = []

    def fail(self, path_regex: str, status: int = 503, *, method: str | None = None,
             times: int | None = None, seconds: float | None = None, body: Any = None,
             retry_after: float | None = None) -> None:
        until = time.monotonic() + seconds if seconds is not None else None
        self._fails.append(_Rule(re.compile(path_regex), method, status, times, until, body,
                                 retry_after))

    def delay(self, path_regex: str, seconds: float, method: str | None = None) -> None:
        self._delays.append(_Rule(re.compile(path_regex), method, seconds=seconds))

    def clear(self) -> None:
        self._fails.clear()
        self._delays.clear()

    async def apply(self, request: web.Request, request_id: str) -> web.Response | None:
        for rule in self._delays:
            if rule.matches(request):
                await asyncio.sleep(rule.seconds)
        for rule in self._fails:
            if rule.matches(request):
                if rule.times is not None:
                    rule.times -= 1
                return _response(rule, request_id)
        return None


def _response(rule: _Rule, request_id: str) -> web.Response:
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = f"{rule.retry_after:g}"
    if rule.status == 429:
        reset = f"{rule.retry_after or 1:g}"
        headers.update({"Retry-After": reset, "X-RateLimit-Limit": "10",
                        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset,
                        "Content-Type": "text/plain; charset=utf-8"})
        body = rule.body if rule.body is not None else "limit exceeded\n"
        return web.Response(body=str(body).encode(), status=429, headers=headers)
    if isinstance(rule.body, str | bytes):
        raw = rule.body.encode() if isinstance(rule.body, str) else rule.body
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return web.Response(body=raw, status=rule.status, headers=headers)
    body = rule.body if rule.body is not None else AppError(
        "api.emulator.fault.app_error", rule.status).body(request_id)
    headers["Content-Type"] = "application/json"
    return web.Response(body=json.dumps(body).encode(), status=rule.status, headers=headers)
