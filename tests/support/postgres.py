"""A real PostgreSQL for tests: Debian's server binaries, a throwaway cluster per session.

Recipe: find the newest ``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql``
package; the version is not hard-coded), ``initdb`` a cluster into a temporary directory,
and ``pg_ctl start`` it listening on 127.0.0.1 only, on a free port, with its unix socket
inside that directory (nothing in /run, nothing on another interface). PostgreSQL refuses
to run as root, so as root the cluster belongs to the ``postgres`` user that the Debian
package creates and the commands run through ``runuser``. Stopping (``pg_ctl stop -m
immediate``) and deleting the directory happen on ``stop()`` and at exit.

A cluster whose owning process died without stopping it (SIGKILL, a killed CI job) is
stopped and deleted by the next ``start_postgres``: each directory names its owner's pid.

Each test gets a database of its own (``new_database``): ``CREATE DATABASE`` from the
empty template costs a few milliseconds, far less than a cluster.

From a shell: ``PYTHONPATH=tests python -m support.postgres`` starts one and prints its URL
until Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "dialerd_test"
START_TIMEOUT_S = 60


class PostgresUnavailable(Exception):
    """This machine cannot run the test PostgreSQL (the package is not installed)."""


def server_bin() -> Path:
    """The bin directory of the newest PostgreSQL server Debian installed."""
    versions = []
    for candidate in PG_ROOT.glob("*/bin/postgres"):
        version = candidate.parent.parent.name
        if re.fullmatch(r"\d+(\.\d+)?", version):
            versions.append((float(version), candidate.parent))
    if not versions:
        raise PostgresUnavailable(
            f"no PostgreSQL server under {PG_ROOT} (Debian package 'postgresql'; ./dev test installs it)"
        )
    return max(versions)[1]


def postgres_unavailable_reason() -> str | None:
    try:
        server_bin()
    except PostgresUnavailable as exc:
        return str(exc)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresInstance:
    """A running cluster: connect as ``SUPERUSER`` with ``password`` on 127.0.0.1:``port``."""

    directory: Path
    port: int
    password: str
    bin: Path
    _as_user: list[str] = field(default_factory=list)
    _stopped: bool = False

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        """The ``store.url`` of ``database`` (without the password: it goes by environment)."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A DSN with the password, for the harness's own connections only."""
        return f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.dsn(database), "-c", sql],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql: {result.stderr.strip()}")
        return result.stdout

    def new_database(self) -> str:
        """A fresh, empty database; its name."""
        name = f"t_{secrets.token_hex(6)}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        subprocess.run(
            [*self._as_user, str(self.bin / "pg_ctl"), "stop", "-D", str(self.directory / "data"),
             "-m", "immediate", "-w"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_orphans() -> None:
    """Stop and delete the clusters whose owning process is gone."""
    for directory in Path(tempfile.gettempdir()).glob("dialerd-pg-*"):
        try:
            owner = int((directory / "owner").read_text())
        except (OSError, ValueError):
            continue  # being made right now, or not ours
        if _pid_alive(owner):
            continue
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        with contextlib.suppress(Exception):
            subprocess.run(
                [*as_user, str(server_bin() / "pg_ctl"), "stop", "-D", str(directory / "data"),
                 "-m", "immediate", "-w"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(directory, ignore_errors=True)


def start_postgres() -> PostgresInstance:
    """initdb + start a cluster on 127.0.0.1 and a free port; stopped and deleted at exit."""
    reason = postgres_unavailable_reason()
    if reason is not None:
        raise PostgresUnavailable(reason)
    stop_orphans()
    bin_dir = server_bin()
    directory = Path(tempfile.mkdtemp(prefix="dialerd-pg-"))
    (directory / "owner").write_text(str(os.getpid()), encoding="utf-8")
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_hex(12)
    pwfile = directory / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    instance = PostgresInstance(directory, _free_port(), password, bin_dir, as_user)
    atexit.register(instance.stop)
    data = directory / "data"
    _run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER,
         "--pwfile", str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8"],
        "initdb",
    )  # fmt: skip
    pwfile.unlink()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={instance.port}"
        f" -c unix_socket_directories={directory}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        " -c max_connections=200"
    )
    _run(
        [*as_user, str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w",
         "-t", str(START_TIMEOUT_S), "-l", str(directory / "server.log"), "-o", options],
        "pg_ctl start",
        log=directory / "server.log",
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            instance.psql("SELECT 1")
            return instance
        except RuntimeError:
            if time.monotonic() > deadline:
                instance.stop()
                raise
            time.sleep(0.1)


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{what} failed: {result.stderr.strip()} {result.stdout.strip()} {tail}")


if __name__ == "__main__":
    server = start_postgres()
    print(server.url(), f"(password {server.password})")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
