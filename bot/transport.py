"""mattermostdriver's endpoint catalogue on an aiohttp transport: every driver call is a coroutine.

The driver's endpoint classes only build a path and hand it to `self.client.get/post/...`,
returning whatever the client returns; the client class is a constructor argument
(`Driver(options, client_cls=...)`). With this client those methods return coroutines, so the
bot awaits the driver on its own event loop: no thread pool, no `requests`, one keep-alive
connection pool. Issue 10 measured the thread-pool transport (`requests` in 8 threads, the
driver notes' option A) at about a fifth of the intake's CPU; the driver notes measured a thin
aiohttp client 2.8-7.8x faster than the driver on `requests` (shared/mattermostdriver-notes.md
§2.1). Everything the notes ask of the transport holds here too: keep-alive, a (connect, read)
timeout, PATCH as PATCH, one error type with Mattermost's status, error id and request id,
JSON parsed whenever the Content-Type starts with application/json, empty bodies tolerated.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
from mattermostdriver.client import Client

from commands.ports import GatewayError

CONNECT_ATTEMPTS = 3  # a refused or reset connect never sent the request: always safe to retry
CONNECTIONS = 16  # at most this many requests in flight (the old thread pool had 8 threads)


class Response:
    """What error mapping and raw downloads read of an HTTP answer (the body is read in full)."""

    __slots__ = ("status_code", "reason", "headers", "content")

    def __init__(self, status: int, reason: str, headers: Mapping[str, str],
                 content: bytes) -> None:
        self.status_code, self.reason, self.headers, self.content = status, reason, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def parse(response: Response) -> Any:
    """JSON if Content-Type starts with application/json; None for an empty body; else raw."""
    if not response.content:
        return None
    if response.headers.get("Content-Type", "").lower().startswith("application/json"):
        try:
            return response.json()
        except ValueError:
            return response
    return response


def _query(params: Any) -> Any:
    """The driver's params as aiohttp takes them: no None values, booleans as true/false."""
    if not params or not isinstance(params, Mapping):
        return params or None
    return {k: ("true" if v else "false") if isinstance(v, bool) else v
            for k, v in params.items() if v is not None}


def _form(data: Any, files: Mapping[str, Any]) -> aiohttp.FormData:
    """A multipart body from requests-style `data` and `files` ({field: (name, fileobj)})."""
    form = aiohttp.FormData()
    for key, value in (data or {}).items():
        form.add_field(key, str(value))
    for field, spec in files.items():
        name, body = (spec[0], spec[1]) if isinstance(spec, tuple) else ("file", spec)
        payload = body.read() if hasattr(body, "read") else body
        form.add_field(field, payload, filename=name, content_type="application/octet-stream")
    return form


def _ssl(verify: bool | str) -> ssl.SSLContext | bool:
    if verify is False:
        return False
    if isinstance(verify, str):  # a CA bundle, as `requests` took it
        return ssl.create_default_context(cafile=verify)
    return True


class AiohttpClient(Client):
    """The driver's Client on aiohttp: get/post/put/patch/delete are coroutines.

    Errors are GatewayError: the status and Mattermost's error body for HTTP errors
    (`rest.error_from_response`), status 0 "connection" for refused, reset and timed-out calls.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        connect, read = _timeouts(options.get("request_timeout"))
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:  # never show the token
        return f"<AiohttpClient {self.url}>"

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise GatewayError(0, "connection", "Mattermost gateway is closed")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=CONNECTIONS, ssl=_ssl(self._verify))
            # trust_env off: no proxy or .netrc from the environment (a .netrc entry for the
            # server would clash with the token header), as for the websocket
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def make_request(  # type: ignore[override]
        self, method: str, endpoint: str, options: Any = None, params: Any = None,
        data: Any = None, files: Any = None, basepath: str | None = None,
    ) -> Response:
        from bot.rest import error_from_response  # local: rest imports this module

        if basepath:
            url = f"{self._scheme}://{self._options['url']}:{self._port:d}{basepath}"
        else:
            url = self.url
        headers = dict(self.auth_header() or {})
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            kwargs: dict[str, Any] = {"headers": headers, "params": _query(params)}
            if files:  # rebuilt per attempt: the file objects are read once
                kwargs["data"] = _form(data, files)
            elif options is not None:
                kwargs["json"] = options
            elif data:
                kwargs["data"] = data
            try:
                async with self._http().request(method.upper(), url + endpoint, **kwargs) as r:
                    response = Response(r.status, r.reason or "", r.headers, await r.read())
                break
            except aiohttp.ClientConnectorError as exc:
                if attempt == CONNECT_ATTEMPTS:
                    raise GatewayError(0, "connection", f"{type(exc).__name__}: {exc}") from None
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise GatewayError(0, "connection", f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    async def get(self, endpoint: str, options: Any = None, params: Any = None) -> Any:
        return parse(await self.make_request("get", endpoint, options=options, params=params))

    async def post(self, endpoint: str, options: Any = None, params: Any = None,
                   data: Any = None, files: Any = None) -> Any:
        return parse(await self.make_request("post", endpoint, options=options, params=params,
                                             data=data, files=files))

    async def put(self, endpoint: str, options: Any = None, params: Any = None,
                  data: Any = None) -> Any:
        return parse(await self.make_request("put", endpoint, options=options, params=params,
                                             data=data))

    async def patch(self, endpoint: str, options: Any = None, params: Any = None,
                    data: Any = None) -> Any:
        return parse(await self.make_request("patch", endpoint, options=options, params=params,
                                             data=data))

    async def delete(self, endpoint: str, options: Any = None, params: Any = None,
                     data: Any = None) -> Any:
        return parse(await self.make_request("delete", endpoint, options=options, params=params,
                                             data=data))


def _timeouts(value: Any) -> tuple[float | None, float | None]:
    """requests' timeout forms: None, one number for both, or (connect, read)."""
    if value is None:
        return None, None
    if isinstance(value, tuple | list):
        return float(value[0]), float(value[1])
    return float(value), float(value)
