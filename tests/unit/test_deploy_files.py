"""The deployment files (Dockerfile, docker-compose.yml, systemd unit) agree with the code.

Docker cannot run here, so these files are checked by parsing them: the same entrypoint as
the console script, environment names that are real settings, the health path served by
bot/http.py, one port everywhere.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from bot import cli
from bot.config import ENV_PREFIX, ServerSettings, Settings, parse
from bot.http import build_app

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
UNIT = ROOT / "deploy" / "supportbot.service"
IMAGE_CONFIG = ROOT / "deploy" / "bot.docker.toml"


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    parsed = [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]
    last_from = max(i for i, (op, _) in enumerate(parsed) if op == "FROM")
    return parsed[last_from:]


def instruction(op: str) -> list[str]:
    return [args for o, args in dockerfile() if o == op]


def exec_form(args: str) -> list[str]:
    return json.loads(args)


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction("ENV"):
        for part in shlex.split(args):
            key, _, value = part.partition("=")
            env[key] = value
    return env


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default}: the default (the test has no .env)."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))


def bot_env() -> dict[str, str]:
    return {k: interpolate(v) for k, v in compose()["services"]["bot"]["environment"].items()}


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def http_paths() -> set[str]:
    app = build_app(SimpleNamespace())
    return {r.canonical for r in app.router.resources()}


def cli_commands() -> set[str]:
    return {"run", "migrate", "check-config", "export", "import", "demo"}


# --- Dockerfile -----------------------------------------------------------------------------

def test_image_is_slim_python_311_and_runs_as_a_non_root_user() -> None:
    assert instruction("FROM") == ["python:3.11-slim"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11"
    [user] = instruction("USER")
    assert user not in ("root", "0")


def test_entrypoint_is_the_console_script_and_cmd_a_real_command() -> None:
    [entrypoint] = instruction("ENTRYPOINT")
    assert exec_form(entrypoint) == ["supportbot"]
    assert console_scripts()["supportbot"] == "bot.cli:main"
    [cmd] = instruction("CMD")
    command = exec_form(cmd)
    assert command[0] in cli_commands() and command[1:] == ["--config", "/etc/supportbot/bot.toml"]
    with pytest.raises(SystemExit) as exc:  # argparse accepts it: --help after the same words
        cli.main([*command, "--help"])
    assert exc.value.code == 0


def test_healthcheck_hits_the_served_health_path_on_the_exposed_port() -> None:
    [healthcheck] = instruction("HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", healthcheck)
    assert url is not None and "urllib" in healthcheck
    port, path = int(url.group(1)), url.group(2)
    assert path in http_paths() and path == "/healthz"
    assert instruction("EXPOSE") == [str(port)]
    assert int(dockerfile_env()["SUPPORTBOT_SERVER__PORT"]) == port == ServerSettings().port


def test_every_env_name_is_a_real_setting_and_the_baked_config_validates() -> None:
    env = dockerfile_env()
    names = [k for k in env if k.startswith(ENV_PREFIX)]
    assert names and all(_is_setting(n) for n in names), names
    data = tomllib.loads(IMAGE_CONFIG.read_text())
    settings = parse(data, config_dir=Path("/etc/supportbot"),
                     environ={**env, "SUPPORTBOT_MATTERMOST__TOKEN": "tok"})
    assert settings.server.host == "0.0.0.0" and settings.server.port == 8080
    assert any("deploy/bot.docker.toml /etc/supportbot/bot.toml" in a for a in instruction("COPY"))


def _is_setting(name: str) -> bool:
    section, _, key = name.removeprefix(ENV_PREFIX).lower().partition("__")
    field = Settings.model_fields.get(section)
    model = getattr(field, "annotation", None)
    return bool(key) and hasattr(model, "model_fields") and key in model.model_fields


def test_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", "tests", "*.db", "bot.toml", ".env"} <= ignored
    assert "README.md" not in ignored  # pyproject's readme: pip install . needs it


# --- docker-compose.yml ---------------------------------------------------------------------

def test_compose_starts_mattermost_postgres_and_the_bot() -> None:
    services = compose()["services"]
    assert services["mattermost"]["image"].startswith("mattermost/mattermost-preview")
    assert services["db"]["image"] == "postgres:16"
    assert services["bot"]["build"] == "."
    assert services["bot"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_env_names_are_settings_and_configure_a_valid_bot() -> None:
    env = bot_env()
    assert all(_is_setting(n) for n in env), [n for n in env if not _is_setting(n)]
    data = tomllib.loads(IMAGE_CONFIG.read_text())
    settings = parse(data, config_dir=Path("/etc/supportbot"),
                     environ={**dockerfile_env(), **env, "SUPPORTBOT_MATTERMOST__TOKEN": "tok"})
    assert settings.mattermost.url == "http://mattermost:8065"
    assert settings.server.host == "0.0.0.0" and settings.server.public_url == "http://bot:8080"
    assert settings.database.url.startswith("postgresql://supportbot:") and "@db:5432/" in settings.database.url


def test_compose_ports_and_mattermost_allow_list_match_the_bot() -> None:
    services = compose()["services"]
    env = bot_env()
    [mapping] = services["bot"]["ports"]
    assert mapping == f"{env['SUPPORTBOT_SERVER__PORT']}:{env['SUPPORTBOT_SERVER__PORT']}"
    public_host = re.match(r"http://([^:/]+)", env["SUPPORTBOT_SERVER__PUBLIC_URL"]).group(1)  # type: ignore[union-attr]
    assert public_host in services  # the service name is the host on the compose network
    allowed = services["mattermost"]["environment"]["MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS"]
    assert public_host in re.split(r"[ ,]+", allowed)
    db_env = services["db"]["environment"]
    assert f"{db_env['POSTGRES_USER']}:" in env["SUPPORTBOT_DATABASE__URL"]
    assert env["SUPPORTBOT_DATABASE__URL"].endswith("/" + db_env["POSTGRES_DB"])


# --- systemd unit ---------------------------------------------------------------------------

def test_unit_runs_the_console_script_as_its_own_user() -> None:
    service = unit()["Service"]
    start = shlex.split(service["ExecStart"])
    assert Path(start[0]).name in console_scripts()
    assert start[1] == "run" and start[2:] == ["--config", "/etc/supportbot/bot.toml"]
    pre = shlex.split(service["ExecStartPre"])
    assert Path(pre[0]).name in console_scripts() and pre[1] == "migrate"
    assert service["User"] == "supportbot"
    assert service["RestartPreventExitStatus"] == str(cli.EXIT_CONFIG)


def test_unit_env_names_are_settings() -> None:
    raw = unit()["Service"]["Environment"]
    names = [part.partition("=")[0] for part in shlex.split(raw)]
    assert names and all(_is_setting(n) for n in names)
