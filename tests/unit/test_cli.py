"""The command line: first run creates bot.toml, bad settings stop with one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main


def test_first_run_creates_the_config_and_says_what_to_fill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bot.toml"
    assert main(["run", "--config", str(config)]) == 2
    assert config.read_text() == (Path(__file__).parents[2] / "bot.example.toml").read_text()
    err = capsys.readouterr().err
    assert "Created" in err and "mattermost.token" in err


def test_empty_token_stops_with_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUPPORTBOT_MATTERMOST__TOKEN", raising=False)
    config = tmp_path / "bot.toml"
    main(["run", "--config", str(config)])
    capsys.readouterr()
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mattermost.token" in err


def test_check_config_accepts_a_token_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bot.toml"
    main(["run", "--config", str(config)])
    monkeypatch.setenv("SUPPORTBOT_MATTERMOST__TOKEN", "abc")
    assert main(["check-config", "--config", str(config)]) == 0
    assert "OK" in capsys.readouterr().out


def test_missing_config_for_check_config_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_migrate_creates_the_sqlite_database_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bot.toml"
    main(["run", "--config", str(config)])
    monkeypatch.setenv("SUPPORTBOT_MATTERMOST__TOKEN", "abc")
    assert main(["migrate", "--config", str(config)]) == 0
    assert (tmp_path / "supportbot.db").is_file()
