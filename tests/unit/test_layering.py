"""The dependency rule of shared/architecture.md, enforced by walking every import with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"bot", "commands", "workflows", "storage", "emulator"}
EDGE_ONLY = {"aiohttp", "mattermostdriver", "apscheduler", "requests", "websockets", "prometheus_client"}

# package -> the packages (ours and third-party edge ones) it may import
ALLOWED = {
    "workflows": {"workflows"},
    "storage": {"storage", "workflows"},
    "commands": {"commands", "workflows"},
    "emulator": {"emulator"},
}
FORBIDDEN_EXTRA = {
    "workflows": {"asyncio", "sqlalchemy", "pydantic"} | EDGE_ONLY,
    "storage": EDGE_ONLY,
    "commands": {"sqlalchemy"} | EDGE_ONLY,
    "emulator": set(),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    wrong = {}
    for path in modules(package):
        if "migrations" in path.parts:
            continue  # Alembic's env.py and versions use alembic/sqlalchemy by design
        bad = (imports(path) & OURS) - ALLOWED[package] | imports(path) & FORBIDDEN_EXTRA[package]
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert wrong == {}


def test_nothing_imports_bot() -> None:
    offenders = [str(p.relative_to(ROOT)) for pkg in ALLOWED for p in modules(pkg)
                 if "bot" in imports(p)]
    assert offenders == []
