"""With several PBXs, systemd hears READY=1 once every PBX's first login has been tried:
not before (the service would look ready with a PBX still unknown), and not only after
every login succeeded (a PBX down at start must not hold the service in 'activating')."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.scenarios import fast_ami

from dialerd.config import load_config
from dialerd.daemon.lifecycle import Lifecycle, Tally
from dialerd.daemon.service import assembled
from dialerd.pbx.sim.server import AmiSimulator

SECRET = "sim-secret"
SILENT_LOGIN_S = 1.0  # west's login_timeout_s: how long its first login takes to fail


@pytest.fixture
async def east() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET) as sim:
        yield sim


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A PBX that takes the TCP connection and never says a word (hung, or half up)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for writer in held:
        writer.close()
    await server.wait_closed()


class Manager:
    """What the service manager heard, and whether west's login had been tried by then."""

    enabled = False  # no watchdog

    def __init__(self) -> None:
        self.heard: list[tuple[tuple[str, ...], bool]] = []
        self.west_tried = lambda: False

    def send(self, *lines: str) -> bool:
        self.heard.append((lines, self.west_tried()))
        return True


async def test_ready_waits_for_the_first_login_attempt_of_every_pbx(tmp_path, east, silent_port):
    overrides: dict[str, Any] = {
        "store": {"path": str(tmp_path / "d.sqlite3")},
        "ami": [
            {"name": "east", **fast_ami("127.0.0.1", east.port), "secret": SECRET},
            {
                "name": "west",
                **fast_ami("127.0.0.1", silent_port),
                "secret": SECRET,
                "login_timeout_s": SILENT_LOGIN_S,
            },
        ],
        "api": {"enabled": False},
        "console": {"enabled": False},
    }
    loaded = load_config(None, overrides=overrides)
    manager = Manager()
    async with assembled(loaded) as parts:
        assert parts.fleet is not None
        manager.west_tried = parts.pbxs[1].attempted.is_set
        lifecycle = Lifecycle(parts.fleet, parts.pbx, loaded, manager, Tally())  # type: ignore[arg-type]
        run = asyncio.create_task(lifecycle.run())
        try:
            async with asyncio.timeout(SILENT_LOGIN_S * 5):
                while not manager.heard:
                    await asyncio.sleep(0.02)
            assert parts.pbxs[0].connected.is_set()  # east was in long before
        finally:
            lifecycle.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await run

    (lines, west_tried), *_ = manager.heard
    assert lines[0] == "READY=1"
    assert west_tried  # not on east's login alone
    assert lines[1] == "STATUS=dialing: 0/10 calls in flight; AMI down, retrying"
