"""Refusals a user should read: shown verbatim as one sentence, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refusal; `str(exc)` is the sentence to show."""
