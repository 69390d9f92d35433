"""HMAC-signed tokens for dialog `state` and button `context`, bound to a purpose and expiring.

Mattermost sends dialog submissions and button clicks without any authentication
(mattermost-protocol.md §2.3, §3.3), so everything the bot must trust travels signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


class BadSignature(Exception):
    """The token is missing, altered, expired, or issued for another purpose or user."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs with the current key; verifies with the current or the previous one (rotation)."""

    key: bytes
    previous_key: bytes = b""

    def sign(self, purpose: str, payload: dict[str, Any], *, now: datetime, ttl: timedelta) -> str:
        body = {"p": purpose, "x": int((now + ttl).timestamp()), "d": payload}
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(raw)}.{_b64(self._mac(self.key, raw))}"

    def verify(self, purpose: str, token: str, *, now: datetime) -> dict[str, Any]:
        """Return the payload, or raise BadSignature."""
        try:
            raw_b64, mac_b64 = token.split(".")
            raw, mac = _unb64(raw_b64), _unb64(mac_b64)
        except (ValueError, TypeError) as exc:
            raise BadSignature("malformed") from exc
        keys = [k for k in (self.key, self.previous_key) if k]
        if not any(hmac.compare_digest(mac, self._mac(k, raw)) for k in keys):
            raise BadSignature("bad signature")
        body = json.loads(raw)
        if body.get("p") != purpose:
            raise BadSignature(f"issued for {body.get('p')!r}, not {purpose!r}")
        if int(body.get("x", 0)) < now.timestamp():
            raise BadSignature("expired")
        payload = body.get("d")
        if not isinstance(payload, dict):
            raise BadSignature("malformed payload")
        return payload

    @staticmethod
    def _mac(key: bytes, raw: bytes) -> bytes:
        return hmac.new(key, raw, hashlib.sha256).digest()


def derive_key(secret: str, *, fallback: str) -> bytes:
    """An explicit key wins; otherwise derive one from the bot token so restarts agree."""
    material = secret or f"supportbot-signing:{fallback}"
    return hashlib.sha256(material.encode()).digest()
