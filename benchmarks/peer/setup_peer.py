"""Create the peer's own virtual environment (benchmarks/.peer-venv): django-helpdesk from PyPI.

    .venv/bin/python -m benchmarks.peer.setup_peer    # idempotent: skips when installed

The peer never shares this project's venv: it is installed with its own pip, pinned to the
version measured in /work/shared/peers/django-helpdesk.md.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE.parent / ".peer-venv"
REQUIREMENTS = ["django-helpdesk==2.6.1", "Django>=5.2,<5.3"]


def python() -> Path:
    return VENV / "bin" / "python"


def installed() -> bool:
    if not python().exists():
        return False
    probe = subprocess.run(
        [str(python()), "-c", "import helpdesk, django; print(django.__version__)"],
        capture_output=True, text=True)
    return probe.returncode == 0


def ensure(quiet: bool = True) -> Path:
    """The peer venv's python, creating and installing it first when needed."""
    if installed():
        return python()
    if not python().exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    cmd = [str(python()), "-m", "pip", "install", "--disable-pip-version-check", *REQUIREMENTS]
    if quiet:
        cmd.insert(4, "-q")
    subprocess.run(cmd, check=True)
    return python()


def versions() -> dict[str, str]:
    out = subprocess.run(
        [str(python()), "-c",
         "import importlib.metadata as m, sqlite3, sys;"
         "print('\\n'.join(f'{p}={m.version(p)}' for p in ('django-helpdesk','Django',"
         "'djangorestframework','django-model-utils')));"
         "print('python=' + sys.version.split()[0]); print('sqlite=' + sqlite3.sqlite_version)"],
        capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.split())


if __name__ == "__main__":
    ensure(quiet=False)
    print(versions(), file=sys.stderr)
