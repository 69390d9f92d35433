"""The HTTP edge and secrets: body limits, malformed bodies, /healthz, logs, config permissions."""

from __future__ import annotations

import io
import logging
import os
import stat
from pathlib import Path

import aiohttp

from bot import cli, logs
from bot.http import MALFORMED, TOO_LARGE
from commands import replies
from tests.security.conftest import Raw
from tests.security.helpers import assert_unchanged, snapshot
from tests.wire.harness import Desk

BIG = b"x" * (1024 * 1024 + 10)


async def test_oversized_bodies_get_a_clean_answer_in_each_callbacks_shape(desk: Desk, raw: Raw) -> None:
    before = await snapshot(desk)
    status, body = await raw("/mattermost/command", data=BIG,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["text"], body["response_type"]) == (200, TOO_LARGE, "ephemeral")
    status, body = await raw("/mattermost/dialog", data=BIG,
                             headers={"Content-Type": "application/json"})
    assert (status, body) == (200, {"error": TOO_LARGE})
    status, body = await raw("/mattermost/action", data=BIG,
                             headers={"Content-Type": "application/json"})
    assert status == 200 and body["ephemeral_text"] == TOO_LARGE
    await assert_unchanged(desk, before)


async def test_malformed_bodies_get_a_clean_refusal(desk: Desk, raw: Raw) -> None:
    for payload in (b"{not json", b"[1, 2]", b"\xff\xfe", b"null"):
        status, body = await raw("/mattermost/dialog", data=payload,
                                 headers={"Content-Type": "application/json"})
        assert (status, body) == (200, {"error": replies.STATE_REFUSED}), payload
        status, body = await raw("/mattermost/action", data=payload,
                                 headers={"Content-Type": "application/json"})
        assert (status, body["ephemeral_text"]) == (200, replies.ACTION_REFUSED), payload
    assert MALFORMED


async def test_healthz_reveals_nothing_sensitive(desk: Desk) -> None:
    assert desk.bot is not None
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{desk.port}/healthz") as resp:
        text = await resp.text()
        body = await resp.json()
    assert resp.status == 200
    assert body == {"status": "ok", "mattermost": True, "database": True}
    secrets = [desk.token, *desk.bot.command_tokens.values(), desk.emu.url, desk.db_url,
               desk.bot.settings.security.signing_key or "unset-key"]
    for secret in secrets:
        assert secret not in text
    assert "Server" not in resp.headers or "Python" not in resp.headers.get("Server", "")


def _capture() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(logs.RedactSecrets())
    logger = logging.getLogger("tests.security.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream, handler


def test_registered_secrets_are_redacted_from_messages_args_and_tracebacks() -> None:
    token, key = "tok3nAbcdefghijklmnopqrstu", "signing-key-0123456789"
    logs.add_secrets(token, key, "short")  # too short to redact safely: ignored
    logger, stream, handler = _capture()
    try:
        logger.info("connecting with token %s", token)
        logger.warning(f"header Authorization: Bearer {token} and key={key}")
        try:
            raise RuntimeError(f"refused {token}")
        except RuntimeError:
            logger.exception("failed")
        logger.info("a short word stays")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert token not in out and key not in out
    assert out.count(logs.REDACTED) == 4
    assert "a short word stays" in out


def test_configure_installs_the_filter_and_json_output_is_redacted(capsys) -> None:  # type: ignore[no-untyped-def]
    token = "json-token-abcdefghijklmnop"
    logs.add_secrets(token)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("INFO", "json")
        assert any(isinstance(f, logs.RedactSecrets) for h in root.handlers for f in h.filters)
        try:
            raise ValueError(token)
        except ValueError:
            logging.getLogger("any.module").exception("boom %s", token)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert token not in err and logs.REDACTED in err


async def test_bot_registers_its_tokens_for_redaction(desk: Desk) -> None:
    assert desk.bot is not None
    assert logs.redact(f"x {desk.token} y") == f"x {logs.REDACTED} y"
    for command_token in desk.bot.command_tokens.values():
        assert command_token not in logs.redact(command_token)


def _config(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text('[mattermost]\nurl = "http://localhost:8065"\ntoken = "abcdefghijklmnopqrstuvwxyz"\n')
    os.chmod(path, mode)
    return path


def test_check_config_warns_when_the_file_is_world_readable(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = _config(tmp_path, 0o644)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        assert cli.main(["check-config", "-c", str(path)]) == 0
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "readable by every user" in err and "chmod 600" in err
    assert "abcdefghijklmnopqrstuvwxyz" not in err


def test_no_warning_for_a_private_file(tmp_path: Path) -> None:
    assert cli.permission_warning(_config(tmp_path, 0o600)) is None
    assert cli.permission_warning(_config(tmp_path, 0o640)) is None
    assert cli.permission_warning(tmp_path / "missing.toml") is None


def test_run_creates_a_private_config_from_the_example(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    assert cli.main(["run", "-c", str(path)]) == cli.EXIT_CONFIG
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_database_password_and_paging_keys_are_redacted(desk: Desk) -> None:
    from bot.app import SupportBot

    settings = desk.settings(database={"url": "postgresql://desk:db-Passw0rd-xyz@db/desk"},
                             oncall={"routing_key": "pagerduty-routing-key-123"})
    SupportBot(settings)  # registers its secrets; not started
    line = logs.redact("connect to postgresql://desk:db-Passw0rd-xyz@db failed; key "
                       "pagerduty-routing-key-123")
    assert "db-Passw0rd-xyz" not in line and "pagerduty-routing-key-123" not in line
