"""Logging set-up: console lines or one JSON object per line; tokens never reach the log."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.observability import CONSOLE_FORMAT, ContextFilter  # observability (issue 11)


# --- security (issue 9): secrets never reach the log ------------------------------------------
REDACTED = "[redacted]"
_SECRETS: set[str] = set()
_MIN_SECRET = 8  # shorter values would redact ordinary words; real tokens are 26+ characters


def add_secrets(*values: str) -> None:
    """Register values (bot token, command tokens, signing keys) to blank out of every record."""
    _SECRETS.update(v for v in values if v and len(v) >= _MIN_SECRET)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter: formats the message (and traceback) once, with the secrets blanked.

    Installed on the handlers (not a logger), so records propagated from every logger pass it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
# --- end security ------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "ticket"):  # observability (issue 11): set by ContextFilter
            if getattr(record, key, "-") != "-":
                entry[key] = getattr(record, key)
        if record.exc_info or record.exc_text:  # exc_text: already formatted (and redacted)
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))  # issue 11: [request ticket]
    handler.addFilter(RedactSecrets())  # security (issue 9)
    handler.addFilter(ContextFilter())  # observability (issue 11): request id, ticket number
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # mattermostdriver logs every HTTP error at ERROR on a misnamed logger; we log our own
    logging.getLogger("mattermostdriver").setLevel(logging.CRITICAL)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
