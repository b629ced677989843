"""``dialerd run`` as systemd runs it, for tests: a subprocess, a config file, signals, sd_notify.

The AMI simulator runs in the test's event loop, so everything here is async: a blocking
wait would freeze the PBX the daemon is talking to. ``NotifyListener`` plays systemd's part.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialerd.daemon.wake import poke
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import open_store

SECRET = "sim-secret"


class NotifyListener:
    """The service manager's end of sd_notify: an abstract Unix datagram socket."""

    def __init__(self) -> None:
        self.address = f"@dialerd-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.sock.setblocking(False)
        self.seen: list[dict[str, str]] = []

    def close(self) -> None:
        self.sock.close()

    async def expect(self, line: str, within_s: float = 10.0) -> dict[str, str]:
        """The next message carrying ``KEY=value`` (every message is kept in ``seen``)."""
        key, _, value = line.partition("=")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within_s):
            while True:
                data = await loop.sock_recv(self.sock, 65536)
                message = dict(item.split("=", 1) for item in data.decode().splitlines())
                self.seen.append(message)
                if message.get(key) == value:
                    return message

    def count(self, line: str) -> int:
        key, _, value = line.partition("=")
        return sum(message.get(key) == value for message in self.seen)


class Daemon:
    """One ``dialerd run`` process with its config file, log file and store."""

    def __init__(
        self,
        tmp_path: Path,
        sim: AmiSimulator,
        notify: NotifyListener,
        *,
        store: Path | None = None,
        store_url: str | None = None,
        store_password: str | None = None,
    ) -> None:
        """``store``: another daemon's store (default: a new one in ``tmp_path``);
        ``store_url`` and its password: a PostgreSQL store instead (``store`` then only
        places the operators' state file)."""
        self.dir = tmp_path
        self.sim = sim
        self.notify = notify
        self.config = tmp_path / "dialerd.yaml"
        self.db = store or tmp_path / "dialerd.sqlite3"
        self.log = tmp_path / "daemon.log"
        self.store_url = store_url
        self.store_password = store_password
        self.proc: asyncio.subprocess.Process | None = None

    def write_config(
        self,
        *,
        port: int | None = None,
        extra: str = "",
        api: dict[str, Any] | None = None,
        **dialing: Any,
    ) -> None:
        """``api``: the API section's keys (None: the API is off, as most tests want)."""
        values = {"max_concurrent_calls": 10, "originate_timeout_s": 20, **dialing}
        lines = "".join(f"  {key}: {value}\n" for key, value in values.items())
        api_lines = "".join(
            f"  {key}: {value}\n" for key, value in (api or {"enabled": "false"}).items()
        )
        self.config.write_text(
            f"""store:
  path: {self.db}
{f"  url: {self.store_url}{chr(10)}" if self.store_url else ""}ami:
  host: 127.0.0.1
  port: {port or self.sim.port}
  reconnect_initial_s: 0.1
  reconnect_max_s: 0.5
  login_timeout_s: 3
dialing:
  channel_template: "Local/{{number}}@customers"
  context: operators
  exten: "101"
{lines}window:  # always open: the tests must not depend on the time of day
  open: "00:00"
  close: "00:00"
campaigns:
  default:
    retry_delays: {{busy: 3600, no_answer: 3600, congestion: 3600, failed: 3600, unknown: 3600}}
api:  # off unless asked: tests/api run it (with tokens)
{api_lines}console:  # off unless asked: tests/web run it
  enabled: false
logging:
  format: json
{extra}"""
        )

    async def start(self, *, secret: str = SECRET, watchdog_usec: int | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env |= {"DIALERD_AMI__SECRET": secret, "NOTIFY_SOCKET": self.notify.address}
        if self.store_password is not None:
            env["DIALERD_STORE__PASSWORD"] = self.store_password
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        with self.log.open("ab") as out:  # the child keeps its own descriptor
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "dialerd.cli",
                "run",
                "--config",
                str(self.config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
            )

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def exit_code(self, within_s: float = 15.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(within_s):
            return await self.proc.wait()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The daemon's JSON log lines (optionally only the event ``name``)."""
        found = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if name is None or entry.get("event") == name:
                    found.append(entry)
        return found

    def tail(self) -> str:
        return self.log.read_text()[-4000:]

    async def add_leads(self, phones: list[str]) -> list[int]:
        """What ``dialerd leads add`` does: commit, then poke the daemon's wake socket."""
        async with open_store(self.db) as db:
            ids = [
                await store.insert_lead(db, store.NewLead(phone=Phone(p)), time.time())
                for p in phones
            ]
        poke(Path(str(self.db) + ".wake"))
        return ids

    def leftovers(self) -> list[str]:
        """Files a clean exit removes: the WAL (checkpointed on close) and the wake socket."""
        names = [f"{self.db.name}-wal", f"{self.db.name}.wake"]
        return [name for name in names if (self.db.parent / name).exists()]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql).fetchall()


class Peak:
    """The most simultaneous calls the simulator carried while this runs."""

    def __init__(self, sim: AmiSimulator) -> None:
        self.sim = sim
        self.value = 0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            self.value = max(self.value, len(self.sim.active_channels))
            await asyncio.sleep(0.002)

    async def __aenter__(self) -> Peak:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def wait_for(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def answering(talk_s: float) -> Callable[[str], SimOutcome]:
    """Every customer answers at once and talks ``talk_s`` real seconds (time_scale 1)."""
    return lambda _number: SimOutcome("answer", talk_s=talk_s)
