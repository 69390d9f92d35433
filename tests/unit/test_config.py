"""Settings: the example file, environment overrides, and one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.config import ConfigError, example_path, load, parse

ROOT = Path(__file__).resolve().parents[2]
TOKEN = {"SUPPORTBOT_MATTERMOST__TOKEN": "tok"}


def example() -> dict:
    return tomllib.loads((ROOT / "bot.example.toml").read_text())


def test_packaged_example_is_the_repository_example() -> None:
    assert example_path().read_text() == (ROOT / "bot.example.toml").read_text()


def test_example_needs_only_a_token() -> None:
    settings = parse(example(), config_dir=ROOT, environ=TOKEN)
    assert settings.mattermost.token == "tok"
    assert [c.name for c in settings.customer_list()] == ["Acme Corp"]


def test_example_without_token_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^mattermost\.token: is empty"):
        parse(example(), config_dir=ROOT, environ={})


def test_environment_overrides_scalars_and_is_validated() -> None:
    env = {**TOKEN, "SUPPORTBOT_SERVER__PORT": "9090", "SUPPORTBOT_LOGGING__LEVEL": "DEBUG"}
    settings = parse(example(), config_dir=ROOT, environ=env)
    assert settings.server.port == 9090 and settings.logging.level == "DEBUG"
    with pytest.raises(ConfigError, match=r"^server\.port: "):
        parse(example(), config_dir=ROOT, environ={**TOKEN, "SUPPORTBOT_SERVER__PORT": "eighty"})


def test_unknown_environment_section_is_named() -> None:
    with pytest.raises(ConfigError, match="SUPPORTBOT_NOPE__X"):
        parse(example(), config_dir=ROOT, environ={**TOKEN, "SUPPORTBOT_NOPE__X": "1"})


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"mattermost": {"url": "localhost:8065"}}, r"^mattermost\.url: must be an http"),
        ({"server": {"port": 70000}}, r"^server\.port: "),
        ({"database": {"url": "mysql://x"}}, r"^database\.url: "),
        ({"customers": [{"name": "X", "plan": "gold"}]}, r"^customers\.0\.plan: "),
        ({"servr": {}}, r"^servr: unknown key"),
        ({"mattermost": {"tokn": "x"}}, r"^mattermost\.tokn: unknown key"),
    ],
)
def test_bad_values_are_named_in_one_line(patch: dict, message: str) -> None:
    data = example()
    for key, value in patch.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=message) as info:
        parse(data, config_dir=ROOT, environ=TOKEN)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_toml_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mattermost\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad)
