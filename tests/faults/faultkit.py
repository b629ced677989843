"""What every fault loop shares: the daemon under test as a real ``dialerd run`` process, its
config, leads, waiting for the store to settle, and the per-loop report line.

The daemon is the code of this tree, or of the tree named by ``DIALERD_UNDER_TEST`` (e.g.
``DIALERD_UNDER_TEST=/work/main``): then the daemon runs from there, and Asterisk loads that
tree's ``config/asterisk`` with this tree's ``extensions_sandbox.conf`` (the customers the
loops dial), so a fix can be checked against this suite without merging either.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from support.asterisk import AsteriskInstance, default_config_dir

import dialerd
from dialerd.daemon.wake import poke
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import open_store

UNDER_TEST_ENV = "DIALERD_UNDER_TEST"
SEED_ENV = "DIALERD_FAULTS_SEED"
LOOPS_ENV = "DIALERD_FAULTS_LOOPS"

# The 4th digit from the end picks the customer's behaviour (extensions_sandbox.conf).
ANSWERS_2S, BUSY, NO_ANSWER, CONGESTION = "1", "2", "3", "4"
TALK_6S, RING_3S_TALK_4S, RING_2S_TALK_12S = "6", "7", "8"
ANSWERING = (ANSWERS_2S, TALK_6S, RING_3S_TALK_4S, RING_2S_TALK_12S)


def seed() -> int:
    return int(os.environ.get(SEED_ENV, "20261206"))


def loops(default: int = 2) -> int:
    return max(1, int(os.environ.get(LOOPS_ENV, str(default))))


def rng_for(name: str) -> random.Random:
    """A generator per test, from the run's seed: a failing run is repeated with the same seed."""
    return random.Random(f"{seed()}-{name}")


def under_test() -> Path | None:
    value = os.environ.get(UNDER_TEST_ENV, "").strip()
    return Path(value).absolute() if value else None


def daemon_tree() -> Path:
    """Where the daemon's code comes from: ``DIALERD_UNDER_TEST``, else this test's dialerd."""
    return under_test() or Path(dialerd.__file__).resolve().parents[1]


def asterisk_kwargs() -> dict[str, Any]:
    """``start_asterisk`` arguments: the config of the tree under test, our customers."""
    tree = under_test()
    if tree is None:
        return {}
    sandbox = (default_config_dir() / "extensions_sandbox.conf").read_text()
    return {
        "config_dir": tree / "config" / "asterisk",
        "extra_config": {"extensions_sandbox.conf": sandbox},
    }


def phones(block: int, mix: dict[str, int]) -> list[str]:
    """Distinct valid numbers ``+7916<block><digit><nnn>``, ``mix`` = {behaviour digit: count}.

    Each loop takes its own ``block`` (0-999), so no number repeats within a run.
    """
    found = []
    for digit, count in mix.items():
        found += [f"+7916{block:03d}{digit}{n:03d}" for n in range(1, count + 1)]
    return found


def shuffled(items: list[str], rng: random.Random) -> list[str]:
    items = list(items)
    rng.shuffle(items)
    return items


def base_config(store_path: Path, ami_host: str, ami_port: int, username: str) -> dict[str, Any]:
    """The daemon the loops run: round the clock, short AMI timeouts, long retry delays
    except ``unknown`` (3 s), so an answered customer wrongly left unknown is redialed
    inside the loop and the ledger sees it."""
    return {
        "store": {"path": str(store_path)},
        "ami": {
            "host": ami_host,
            "port": ami_port,
            "username": username,
            "login_timeout_s": 3,
            "reconnect_initial_s": 0.1,
            "reconnect_max_s": 1,
            "ping_interval_s": 2,
        },
        "dialing": {
            "max_concurrent_calls": 6,
            "channel_template": "Local/{number}@customers",
            "context": "operators",
            "exten": "101",
            "originate_timeout_s": 6,
        },
        "window": {"open": "00:00", "close": "00:00"},
        "campaigns": {
            "default": {
                "retry_delays": {
                    "busy": 3600,
                    "no_answer": 3600,
                    "congestion": 3600,
                    "failed": 3600,
                    "unknown": 3,
                },
            }
        },
        "alerts": {"speed_to_lead_warn_min": None, "speed_to_lead_missed": False},
        "api": {"enabled": False},
        "console": {"enabled": False},
        "logging": {"format": "json", "level": "info"},
    }


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Dialerd:
    """``dialerd run`` under test: one config, one store, one log file across restarts."""

    workdir: Path
    pbx: AsteriskInstance
    store_path: Path
    ami_port: int
    extra: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    exits: list[int] = field(default_factory=list)  # return codes of runs that ended by themselves

    def __post_init__(self) -> None:
        self.config = self.workdir / "dialerd.yaml"
        self.log = self.workdir / "daemon.log"
        self.log.touch()
        data = base_config(self.store_path, self.pbx.host, self.ami_port, self.pbx.username)
        self.config.write_text(yaml.safe_dump(merged(data, self.extra)))

    # --- the process ----------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env["DIALERD_AMI__SECRET"] = self.pbx.secret
        # run from the workdir: ``python -m`` puts the working directory first on sys.path
        env["PYTHONPATH"] = str(daemon_tree())
        return env | self.env

    async def migrate(self) -> None:
        """Create the store (then closed: its WAL checkpointed and gone) before the first start."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dialerd.cli", "migrate", "--config", str(self.config),
            env=self._env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=self.workdir,
        )  # fmt: skip
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise AssertionError(f"dialerd migrate failed: {out.decode()[-2000:]}")

    async def start(self, *, ready_within_s: float | None = 15.0) -> None:
        """Start ``dialerd run``; with ``ready_within_s``, wait for its ``ami_connected``."""
        assert not self.alive, "already running"
        mark = self.log_size()
        with self.log.open("ab") as out:  # the child keeps its own descriptor
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "dialerd.cli", "run", "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=self._env(),
                cwd=self.workdir, preexec_fn=_die_with_parent,
            )  # fmt: skip
        self.starts += 1
        if ready_within_s is not None:
            await self.wait_event("ami_connected", after=mark, within_s=ready_within_s)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def check_exited(self) -> int | None:
        """The return code if the process ended by itself since the last check (else None)."""
        if self.proc is not None and self.proc.returncode is not None:
            code = self.proc.returncode
            self.exits.append(code)
            self.proc = None
            return code
        return None

    async def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; whatever was in flight stays 'dialing' in the store."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.kills += 1
        self.proc = None

    async def stop(self, within_s: float = 20.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``within_s``); the return code."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(within_s):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self.proc = None
        return proc.returncode

    # --- the log --------------------------------------------------------------------------
    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_lines(self, after: int = 0) -> list[str]:
        with self.log.open("rb") as handle:
            handle.seek(after)
            return handle.read().decode("utf-8", "replace").splitlines()

    def events(self, name: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        found = []
        for line in self.log_lines(after):
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and (name is None or entry.get("event") == name):
                    found.append(entry)
        return found

    def non_json_lines(self) -> list[str]:
        bad = []
        for line in self.log_lines():
            try:
                entry = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if not isinstance(entry, dict):
                bad.append(line)
        return bad

    async def wait_event(self, name: str, *, after: int = 0, within_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while True:
            found = self.events(name, after)
            if found:
                return found[0]
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(
                    f"dialerd exited ({self.proc.returncode}) before logging {name}:\n"
                    + self.tail()
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"dialerd did not log {name} within {within_s} s:\n{self.tail()}"
                )
            await asyncio.sleep(0.05)

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.log_lines()[-lines:])

    def excerpt(
        self, *names: str, limit: int = 8, since: float = 0.0, until: float = float("inf")
    ) -> str:
        """The first log lines of these events, logged between ``since`` and ``until``."""
        picked = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                entry = json.loads(line)
                at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
                if entry.get("event") in names and since <= at.timestamp() <= until:
                    picked.append(line)
        return "\n".join(picked[:limit])

    # --- the store ------------------------------------------------------------------------
    async def add_leads(self, numbers: list[str]) -> list[int]:
        """As ``dialerd leads add`` does: commit (one transaction), then poke the daemon."""
        now = time.time()
        async with open_store(self.store_path) as db, db.transaction() as conn:
            ids = [
                await store.insert_lead_in(
                    conn, store.NewLead(phone=Phone(p)), now, store.Placement(deadline_at=now)
                )
                for p in numbers
            ]
        poke(self.store_path.with_name(self.store_path.name + ".wake"))
        return ids

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with contextlib.closing(sqlite3.connect(self.store_path, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with contextlib.closing(sqlite3.connect(self.store_path, timeout=10)) as conn:
            row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test process dies, so no daemon outlives a killed run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


async def settle(daemon: Dialerd, live_calls: Callable[[], int], within_s: float) -> str | None:
    """Wait until nothing is in flight and nothing is due within 10 s; None, or what is not.

    Settled: no attempt and no lead 'dialing', no waiting lead due in the next 10 s (the
    ``unknown`` redial is 3 s), no customer channel up at Asterisk.
    """
    deadline = time.monotonic() + within_s
    while True:
        now = time.time()
        dialing = daemon.scalar("SELECT COUNT(*) FROM attempts WHERE status = 'dialing'")
        leads_dialing = daemon.scalar("SELECT COUNT(*) FROM leads WHERE state = 'dialing'")
        due = daemon.scalar(
            "SELECT COUNT(*) FROM leads WHERE state = 'waiting' AND due_at <= ?", (now + 10,)
        )
        live = live_calls()
        if not (dialing or leads_dialing or due or live):
            return None
        if time.monotonic() > deadline:
            return (
                f"not settled within {within_s:.0f} s: {dialing} attempts and {leads_dialing}"
                f" leads 'dialing', {due} leads due, {live} customer channels up"
            )
        await asyncio.sleep(0.2)


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)
