"""A real PostgreSQL server for the run store's tests: Debian's ``postgresql`` package (scripts/test.sh installs
it), a throwaway cluster in a temporary folder on 127.0.0.1 and a free port, started once per test session and
stopped after. Where the package is missing (a developer's machine without it) the tests that need it are
skipped with a message saying so; CI installs it, so there they run."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

USER = "forecaster"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root (CI), run it as the package's own ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PostgresServer:
    def __init__(self) -> None:
        bin_dir = _binaries()
        if bin_dir is None:
            pytest.skip("PostgreSQL is not installed (Debian's postgresql package; scripts/test.sh installs it)")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="forecaster-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        os.chmod(self.root, 0o700)
        self._run(["initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        self._run(["pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l", str(self.root / "log"), "-o",
                   f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        self._databases = 0

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(_as_server_user([str(self.bin / cmd[0]), *cmd[1:]]), capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {done.stdout}{done.stderr}")

    def new_database(self) -> str:
        """A fresh, empty database on the server, as an SQLAlchemy URL."""
        import sqlalchemy as sa

        self._databases += 1
        name = f"runs_{self._databases}"
        admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
