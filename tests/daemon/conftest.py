"""Fixtures for ``dialerd run`` driven like systemd drives it (see ``tests/support/daemon.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.daemon import SECRET, Daemon, NotifyListener

from dialerd.pbx.sim.server import AmiSimulator


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET, time_scale=1.0) as simulator:
        yield simulator


@pytest.fixture
def notify() -> Iterator[NotifyListener]:
    listener = NotifyListener()
    yield listener
    listener.close()


@pytest.fixture
async def daemon(
    tmp_path: Path, sim: AmiSimulator, notify: NotifyListener
) -> AsyncIterator[Daemon]:
    process = Daemon(tmp_path, sim, notify)
    try:
        yield process
    finally:
        await process.kill()
