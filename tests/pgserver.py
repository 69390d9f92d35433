"""A private, throwaway PostgreSQL server for tests that stop and restart it (issue 8, fault 5).

    with private_postgres() as pg:        # raises PgUnavailable(reason): skip, don't fail
        url = pg.create_database("desk")  # postgresql://postgres@127.0.0.1:<port>/desk
        pg.restart()                      # pg_ctl restart -m fast
        pg.stop(); pg.start()

The shared server (tests/dbutil.py, 127.0.0.1:5432) is never touched: this one is initdb'd into a
fresh temporary folder, listens on a free port of 127.0.0.1 only (trust auth, no Unix socket in
the system folder), and is stopped and deleted on exit. Started as root, the binaries run as the
`postgres` OS user through runuser (initdb and postgres refuse to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.wire.harness import free_port

OS_USER = "postgres"
START_TIMEOUT_S = 30


class PgUnavailable(RuntimeError):
    """No private PostgreSQL here; the message says why (a pytest skip reason)."""


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl (or PG_BINDIR)."""
    candidates = [os.environ["PG_BINDIR"]] if os.environ.get("PG_BINDIR") else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                         else 0, reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


@dataclass
class PgServer:
    bindir: Path
    root: Path  # owned by the server's OS user; holds data/ and server.log
    port: int
    as_user: str | None  # run the binaries as this OS user (None: as ourselves)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, check: bool = True,
             timeout: float = START_TIMEOUT_S + 10) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, check=False)
        if check and done.returncode != 0:
            raise PgUnavailable(f"{tool} failed ({done.returncode}): "
                                f"{(done.stderr or done.stdout).strip()[-400:]}{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        with suppress(OSError):
            return "\n--- server.log ---\n" + self.log_file.read_text()[-800:]
        return ""

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")
        settings = (f"\n# tests/pgserver.py\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                    "max_connections = 100\nlogging_collector = off\n")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w",
                  "-t", str(START_TIMEOUT_S), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-m", mode, "-w",
                  "-t", str(START_TIMEOUT_S), "restart")

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (psql-free: createdb over TCP); its postgresql:// URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise PgUnavailable(f"running as root and there is no {OS_USER!r} OS user for initdb") from None
    if shutil.which("runuser") is None:
        raise PgUnavailable("running as root and runuser is missing (initdb refuses root)")
    return OS_USER


def _start_on_a_free_port(server: PgServer, attempts: int = 3) -> None:
    """free_port() only finds a port that was free a moment ago: on a clash, take another."""
    for attempt in range(1, attempts + 1):
        try:
            server.start()
            return
        except PgUnavailable as exc:
            if attempt == attempts or "already in use" not in str(exc):
                raise
        server.port = free_port()
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {server.port}\n")  # a later line wins


@contextmanager
def private_postgres() -> Iterator[PgServer]:
    """initdb + start a private server; stop it and delete its folder afterwards."""
    bindir = find_bindir()
    if bindir is None:
        raise PgUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) under "
                            "/usr/lib/postgresql/*/bin; set PG_BINDIR to use others")
    user = _server_user()
    # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700, so `postgres` could not reach it.
    root = Path(tempfile.mkdtemp(prefix="supportbot-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PgServer(bindir=bindir, root=root, port=free_port(), as_user=user)
    try:
        server.initdb()
        _start_on_a_free_port(server)
        yield server
    finally:
        with suppress(Exception):
            if server.is_running():
                server.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)
