"""The daemon under test runs whole (store, engine, AMI simulator, HTTP API); tests speak HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from support.api import Daemon, http_daemon


@pytest.fixture
async def daemon(tmp_path, engine_store) -> AsyncIterator[Daemon]:
    """On the store engine of the test (``engines``; ``engine_store`` names its database)."""
    async with http_daemon(tmp_path) as running:
        yield running


@pytest.fixture
async def api(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    async with daemon.client() as client:
        yield client
