"""``dialerd status`` on a SQLite store: the one daemon holding its lock, or none."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from support.daemon import Daemon


async def status(daemon: Daemon, fmt: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialerd.cli", "status", "--format", fmt,
        "--config", str(daemon.config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_status_names_the_running_daemon_and_then_none(daemon: Daemon):
    daemon.write_config()
    await daemon.start()
    await daemon.notify.expect("READY=1")
    assert daemon.proc is not None
    listed = json.loads(await status(daemon, "json"))
    assert [(d["pid"], d["state"]) for d in listed] == [(daemon.proc.pid, "alive")]

    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()
    assert await status(daemon, "table") == f"{daemon.db}: no daemon running\n"


async def test_a_daemon_killed_with_sigkill_is_not_listed(daemon: Daemon):
    """Its pid stays in the lock file, but no process has it any more."""
    daemon.write_config()
    await daemon.start()
    await daemon.notify.expect("READY=1")
    await daemon.kill()
    assert json.loads(await status(daemon, "json")) == []
