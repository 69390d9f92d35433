"""Mattermost-style 26-character ids and signed trigger ids."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from .errors import AppError

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_MM = "ybndrfg8ejkmcpqxot1uwisza345h769"
_TABLE = str.maketrans(_STD, _MM)


def new_id() -> str:
    """A new id: 16 random bytes in Mattermost's base32 alphabet, 26 chars."""
    return base64.b32encode(os.urandom(16)).decode().translate(_TABLE)[:26]


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 26 and value.isalnum()


def make_trigger_id(key: bytes, client_id: str, user_id: str, now_ms: int) -> str:
    """base64(clientTriggerId:userId:unixMillis:base64(signature)), HMAC-signed."""
    payload = f"{client_id}:{user_id}:{now_ms}"
    sig = base64.b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()).decode()
    return base64.b64encode(f"{payload}:{sig}".encode()).decode()


def decode_trigger_id(key: bytes, trigger_id: str, now_ms: int,
                      timeout_s: float) -> tuple[str, str]:
    """Return (client trigger id, user id) or raise the server's AppError."""
    prefix = "interactive_message.decode_trigger_id."
    try:
        decoded = base64.b64decode(trigger_id, validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise AppError(prefix + "base64_decode_failed", 400) from None
    parts = decoded.split(":")
    if len(parts) != 4:
        raise AppError(prefix + "missing_data", 400)
    client_id, user_id, stamp, sig = parts
    try:
        timestamp = int(stamp)
    except ValueError:
        raise AppError(prefix + "missing_data", 400) from None
    if now_ms - timestamp > int(timeout_s * 1000):
        raise AppError(prefix + "expired", 400, {"Duration": _go_duration(timeout_s)})
    try:
        raw_sig = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise AppError(prefix + "base64_decode_failed_signature", 400) from None
    expected = hmac.new(key, f"{client_id}:{user_id}:{stamp}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(raw_sig, expected):
        raise AppError(prefix + "verify_signature_failed", 400)
    return client_id, user_id


def _go_duration(seconds: float) -> str:
    return f"{seconds:g}s"
