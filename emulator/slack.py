"""Slack-compatibility text processing applied to integration replies."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import Store

_LINK = re.compile(r"<([^|<>]+)\|([^|<>]+)>")
_USER = re.compile(r"<@([^>|]+)(\|[^>]+)?>")


def process_text(text: str, store: Store) -> str:
    """ProcessSlackText: <!channel> -> @channel, <@ID> -> @name, <url|text> -> [text](url)."""
    if not isinstance(text, str):
        return text
    for word in ("channel", "here", "all"):
        text = text.replace(f"<!{word}>", f"@{word}")

    def user(match: re.Match) -> str:
        found = store.users.get(match.group(1))
        return f"@{found.username}" if found else match.group(0)

    text = _USER.sub(user, text)
    return _LINK.sub(r"[\2](\1)", text)


def process_attachments(atts: list | None, store: Store) -> list | None:
    if not isinstance(atts, list):
        return atts
    atts = copy.deepcopy(atts)
    for att in atts:
        if not isinstance(att, dict):
            continue
        for key in ("pretext", "text", "title"):
            if isinstance(att.get(key), str):
                att[key] = process_text(att[key], store)
        for fld in att.get("fields") or []:
            if isinstance(fld, dict) and isinstance(fld.get("value"), str):
                fld["value"] = process_text(fld["value"], store)
    return atts
