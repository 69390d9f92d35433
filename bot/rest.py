"""mattermostdriver's REST Driver, wrapped: keep-alive, timeouts, one error type, bounded retries.

Every call runs in a dedicated thread pool: the driver is synchronous and a direct call stalls the
event loop (609 ms measured, shared/mattermostdriver-notes.md §2.1). The driver's own client
opens a TCP connection per call, has no timeout, sends PATCH as GET, loses error ids and logs
every HTTP error at ERROR; `SessionClient` replaces its transport (notes §5 Option A).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from mattermostdriver import Driver
from mattermostdriver.client import Client
from mattermostdriver.exceptions import (
    ContentTooLarge,
    FeatureDisabled,
    InvalidOrMissingParameters,
    MethodNotAllowed,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from commands.ports import GatewayError

log = logging.getLogger(__name__)

# The driver logs every HTTP error (expected 404s included) at ERROR on this misnamed logger.
logging.getLogger("mattermostdriver.websocket").setLevel(logging.CRITICAL)

T = TypeVar("T")

DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 30.0)
RETRY_STATUSES = frozenset({502, 503, 504})

# The driver's exception classes carry the status only in their type (notes §2.2).
_DRIVER_ERROR_STATUS: dict[type[requests.HTTPError], int] = {
    InvalidOrMissingParameters: 400,
    NoAccessTokenProvided: 401,
    NotEnoughPermissions: 403,
    ResourceNotFound: 404,
    MethodNotAllowed: 405,
    ContentTooLarge: 413,
    FeatureDisabled: 501,
}
_STATUS_DRIVER_ERROR = {status: cls for cls, status in _DRIVER_ERROR_STATUS.items()}


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


class SessionClient(Client):
    """The driver's Client with a keep-alive `requests.Session` per thread, PATCH, sane parsing.

    Errors are raised as the driver's own exception classes (or plain HTTPError) but, unlike the
    driver, with `response` attached, so `to_gateway_error` can read Mattermost's error body.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:  # never show the token
        return f"<SessionClient {self.url}>"

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Retry only failures to connect: the request never left, so it is always safe.
            adapter = HTTPAdapter(
                max_retries=Retry(
                    total=2, connect=2, read=0, redirect=0, status=0, other=0,
                    respect_retry_after_header=False,  # 429 and 5xx are ours to retry
                )
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            with self._sessions_lock:
                if self._closed:
                    raise requests.ConnectionError("REST client is closed")
                self._sessions.append(session)
            self._local.session = session
        return session

    def close(self) -> None:
        with self._sessions_lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def make_request(  # type: ignore[override]
        self,
        method: str,
        endpoint: str,
        options: Any = None,
        params: Any = None,
        data: Any = None,
        files: Any = None,
        basepath: str | None = None,
    ) -> requests.Response:
        if basepath:
            url = f"{self._scheme}://{self._options['url']}:{self._port:d}{basepath}"
        else:
            url = self.url
        kwargs: dict[str, Any] = {
            "headers": self.auth_header() or {},
            "verify": self._verify,
            "params": params or None,
            "data": data or None,
            "files": files or None,
            "timeout": self.request_timeout,
        }
        if options is not None and not files:
            kwargs["json"] = options
        if self._auth is not None:
            kwargs["auth"] = self._auth()
        response = self._session().request(method.upper(), url + endpoint, **kwargs)
        if response.status_code >= 400:
            error_cls = _STATUS_DRIVER_ERROR.get(response.status_code, requests.HTTPError)
            raise error_cls(f"{response.status_code} {response.reason}", response=response)
        return response

    @staticmethod
    def parse(response: requests.Response) -> Any:
        """JSON if Content-Type starts with application/json; None for an empty body; else raw."""
        if not response.content:
            return None
        content_type = response.headers.get("Content-Type", "")
        if content_type.lower().startswith("application/json"):
            try:
                return response.json()
            except ValueError:
                return response
        return response

    def get(self, endpoint: str, options: Any = None, params: Any = None) -> Any:
        return self.parse(self.make_request("get", endpoint, options=options, params=params))

    def post(
        self, endpoint: str, options: Any = None, params: Any = None, data: Any = None,
        files: Any = None,
    ) -> Any:
        response = self.make_request(
            "post", endpoint, options=options, params=params, data=data, files=files
        )
        return self.parse(response)

    def put(self, endpoint: str, options: Any = None, params: Any = None, data: Any = None) -> Any:
        return self.parse(
            self.make_request("put", endpoint, options=options, params=params, data=data)
        )

    def patch(
        self, endpoint: str, options: Any = None, params: Any = None, data: Any = None
    ) -> Any:
        return self.parse(
            self.make_request("patch", endpoint, options=options, params=params, data=data)
        )

    def delete(
        self, endpoint: str, options: Any = None, params: Any = None, data: Any = None
    ) -> Any:
        return self.parse(
            self.make_request("delete", endpoint, options=options, params=params, data=data)
        )


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


def error_from_response(response: requests.Response) -> GatewayError:
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


def to_gateway_error(exc: BaseException) -> GatewayError:
    """Map anything the driver or requests raises to a GatewayError."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, requests.HTTPError):
        if exc.response is not None:
            return error_from_response(exc.response)
        # The stock driver raises its classes without the response: the status is in the type.
        status = next(
            (code for cls, code in _DRIVER_ERROR_STATUS.items() if isinstance(exc, cls)), 0
        )
        return GatewayError(status, "", str(exc))
    if isinstance(exc, requests.RequestException):  # refused, reset, timeouts, TLS
        return GatewayError(0, "connection", f"{type(exc).__name__}: {exc}")
    raise exc


class MattermostRest:
    """The wrapped Driver: `await rest.call(lambda d: d.posts.get_post(pid))`.

    `call` runs the function in the pool, maps errors to GatewayError and retries per the policy.
    The function is called afresh on every attempt (rebuild file objects inside it).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: Any = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        workers: int = 8,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.driver = Driver(driver_options(url, token, timeout, verify), client_cls=SessionClient)
        self.driver.client.token = token  # no login(): that would be a blocking GET /users/me
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="mattermost-rest"
        )
        self._closed = False

    @property
    def client(self) -> SessionClient:
        return self.driver.client  # type: ignore[no-any-return]

    async def call(self, fn: Callable[[Driver], T], *, what: str = "request") -> T:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            attempt += 1
            if self._closed:
                raise GatewayError(0, "connection", "Mattermost gateway is closed")
            try:
                future = loop.run_in_executor(self._executor, functools.partial(self._invoke, fn))
            except RuntimeError:  # the pool was shut down
                raise GatewayError(0, "connection", "Mattermost gateway is closed") from None
            try:
                return await future
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closed and task is not None and not task.cancelling():
                    # close() cancelled the queued call, not our caller
                    raise GatewayError(0, "connection", "Mattermost gateway is closed") from None
                raise
            except GatewayError as err:
                delay = self.retry.delay_for(err, attempt)
                if delay is None:
                    raise
                log.warning(
                    "Mattermost %s failed (%s %s), attempt %d/%d, retrying in %.2fs",
                    what, err.status, err.error_id or err.message, attempt,
                    self.retry.max_attempts, delay,
                )
                await asyncio.sleep(delay)

    def _invoke(self, fn: Callable[[Driver], T]) -> T:
        try:
            return fn(self.driver)
        except (requests.RequestException, GatewayError) as exc:
            raise to_gateway_error(exc) from None

    def close(self) -> None:
        """Stop the pool (queued calls are cancelled) and close every thread's session."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()
