"""mattermostdriver's REST Driver, wrapped: one error type, bounded retries, on the event loop.

The driver is the endpoint catalogue; its transport is `bot/transport.py`'s aiohttp client, so
every driver call is a coroutine awaited here (keep-alive, timeouts, PATCH, Mattermost's error
fields: the driver's own `requests` client has none of them, shared/mattermostdriver-notes.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mattermostdriver import Driver

from bot.transport import AiohttpClient, Response
from commands.ports import GatewayError

log = logging.getLogger(__name__)

# The driver logs every HTTP error (expected 404s included) at ERROR on this misnamed logger.
logging.getLogger("mattermostdriver.websocket").setLevel(logging.CRITICAL)

T = TypeVar("T")

DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 30.0)
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries: 429 waits for Retry-After, 502/503/504 back off exponentially with jitter.

    `max_attempts` counts the first try. A Retry-After longer than `max_wait` is not waited for:
    the 429 is raised at once with `retry_after` set, so the caller can decide.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 30.0

    def delay_for(self, err: GatewayError, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up and raise `err`."""
        if attempt >= self.max_attempts:
            return None
        if err.status == 429:
            if err.retry_after is None:
                return self.backoff(attempt)
            return err.retry_after if err.retry_after <= self.max_wait else None
        if err.status in RETRY_STATUSES:
            return self.backoff(attempt)
        return None

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half to all of base * 2^(attempt-1), capped."""
        ceiling = min(self.max_delay, self.max_wait, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def driver_options(
    url: str, token: str, timeout: Any, verify: bool | str = True
) -> dict[str, Any]:
    """Split "https://mm.example.com/sub" into the Driver's scheme, host, int port and basepath."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Mattermost URL must be http(s)://host[:port][/path], got {url!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal: the driver formats "{scheme}://{url}:{port}"
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)  # int: the driver uses {:d}
    return {
        "scheme": parts.scheme,
        "url": host,
        "port": int(port),
        "basepath": parts.path.rstrip("/") + "/api/v4",
        "token": token,
        "verify": verify,
        "request_timeout": timeout,
        "debug": False,  # debug=True logs credentials
    }


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_from_response(response: Response) -> GatewayError:
    """Mattermost's AppError body {id, message, request_id, ...}; text bodies (429, proxies) too.
    """
    error_id = message = request_id = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error_id = str(body.get("id") or "")
        message = str(body.get("message") or "")
        request_id = str(body.get("request_id") or "")
    if not message:
        text = response.text.strip() if body is None else ""
        is_html = text.lstrip().startswith("<")
        message = text[:200] if text and not is_html else response.reason or ""
    return GatewayError(
        response.status_code,
        error_id,
        message,
        request_id or response.headers.get("X-Request-Id", ""),
        parse_retry_after(response.headers.get("Retry-After")),
    )


class MattermostRest:
    """The wrapped Driver: `await rest.call(lambda d: d.posts.get_post(pid))`.

    `call` awaits the driver call, retrying per the policy (errors are GatewayError). The
    function is called afresh on every attempt (rebuild file objects inside it).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: Any = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.driver = Driver(driver_options(url, token, timeout, verify),
                             client_cls=AiohttpClient)
        self.driver.client.token = token  # no login(): the token is the bot's access token
        self._closed = False

    @property
    def client(self) -> AiohttpClient:
        return self.driver.client  # type: ignore[no-any-return]

    async def call(self, fn: Callable[[Driver], Awaitable[T]], *, what: str = "request") -> T:
        attempt = 0
        while True:
            attempt += 1
            if self._closed:
                raise GatewayError(0, "connection", "Mattermost gateway is closed")
            try:
                return await fn(self.driver)
            except GatewayError as err:
                delay = self.retry.delay_for(err, attempt)
                if delay is None or self._closed:
                    raise
                log.warning(
                    "Mattermost %s failed (%s %s), attempt %d/%d, retrying in %.2fs",
                    what, err.status, err.error_id or err.message, attempt,
                    self.retry.max_attempts, delay,
                )
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Refuse further calls and close the connection pool (calls in flight fail)."""
        if self._closed:
            return
        self._closed = True
        await self.client.close()
