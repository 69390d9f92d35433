"""The outgoing webhook for page events (commands.ports.Webhook), over aiohttp."""

from __future__ import annotations

from typing import Any

import aiohttp

from commands.ports import WebhookError

__all__ = ["AiohttpWebhook", "WebhookError"]


class AiohttpWebhook:
    """POST each event as JSON to one URL (e.g. PagerDuty's /v2/enqueue); one session, reused."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the URL may carry a secret
        return "AiohttpWebhook(<url>)"

    async def send(self, event: dict[str, Any]) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.url, json=event) as response:
                if response.status >= 300:
                    body = (await response.text())[:200]
                    raise WebhookError(f"HTTP {response.status}: {body}", response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WebhookError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
