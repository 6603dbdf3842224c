"""A private PostgreSQL cluster for tests that must restart the database server itself.

The machine's shared server cannot be restarted without breaking every other run on it, so such
tests `initdb` their own cluster in a scratch folder, on a free port, and stop it afterwards.
initdb refuses to run as root: as root, the cluster belongs to the `postgres` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

from tests.conftest import free_port
from tests.liveserver import ROOT

MIGRATED_TEMPLATE = "vault_template"


def server_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (the newest Debian version, else PATH)."""
    debian = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]

    def version(folder: Path) -> tuple[int, ...]:  # "15", "9.6"
        return tuple(int(part) for part in folder.parent.name.split(".") if part.isdigit())

    newest_first = sorted(debian, key=version, reverse=True)
    for folder in newest_first:
        if (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl") and shutil.which("postgres"):
        return Path(initdb).parent
    return None


class PrivateCluster:
    """One cluster in a scratch folder, listening on 127.0.0.1 only, trusting local connections."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="vault-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # KeyError: no user to own the cluster; that is a failure
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.as_owner, str(self.binaries / tool), *args]
        done = subprocess.run(command, cwd=self.base, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        # -l always: without it the server writes to pg_ctl's output, which the server then holds open.
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", *args)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", "--no-instructions")  # fmt: skip
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        self._pg_ctl("start", "-o", options)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is ended, the server stops, then starts again."""
        self._pg_ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        """Stop the server (whatever state the test left it in) and remove the cluster."""
        pid_file = self.data / "postmaster.pid"
        try:
            if pid_file.exists():
                self._pg_ctl("stop", "-m", "immediate")
        except RuntimeError:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)  # what `-m immediate` sends
            raise
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(self.url(database).replace("postgres://", "postgresql://"), autocommit=True)

    def migrate_template(self) -> None:
        """A migrated database to copy for each test: a copy takes a fraction of a migration's time."""
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {MIGRATED_TEMPLATE}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
                 "DATABASE_URL": self.url(MIGRATED_TEMPLATE)},
            check=True,
            timeout=120,
        )  # fmt: skip

    def fresh_database(self) -> str:
        """A new migrated database; its URL."""
        name = f"vault_{uuid.uuid4().hex[:12]}"
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {MIGRATED_TEMPLATE}")
        return self.url(name)
