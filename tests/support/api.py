"""The daemon as the shop's CRM sees it: the real service on a free port, the AMI simulator as PBX.

Tests drive it only through HTTP (and the CLI, against the same config file); the
config is a real YAML file and the secrets come from the environment, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from support.scenarios import SANDBOX_DIALING, fast_ami

from dialerd.config import load_config
from dialerd.daemon.service import Assembled, assembled
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.store import sql

SECRET = "sim-secret"
TOKENS = {"crm": "crm-token-0123456789abcdef", "console": "console-token-0123456789ab"}


@dataclass
class Daemon:
    url: str
    config: Path
    store: Path
    recordings: Path
    sim: AmiSimulator
    parts: Assembled

    async def rows(self, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """A query on the daemon's own store, on either engine, as plain tuples."""
        return [tuple(row) for row in await sql.rows(self.parts.db.conn, statement, params)]

    def client(self, token: str | None = "crm", **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for the API, authenticated as token ``token`` (None: no header)."""
        headers = {"Authorization": f"Bearer {TOKENS[token]}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **kwargs)


def config_data(
    workdir: Path, ami_port: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "store": {"path": str(workdir / "dialerd.sqlite3")},
        "ami": fast_ami("127.0.0.1", ami_port),
        "dialing": dict(SANDBOX_DIALING),
        # always open: what the tests see must not depend on the time of day they run at
        "window": {"open": "00:00", "close": "00:00"},
        "campaigns": {
            "default": {"retry_delays": {"busy": 3600, "no_answer": 3600, "failed": 3600}},
            "web": {"duplicates": {"rule": "phone_window", "window_h": 24}},
        },
        "api": {"port": 0, "recordings_dir": str(workdir / "recordings")},
        "console": {"enabled": False},
        "logging": {"level": "info", "format": "json"},
    }
    return _merged(data, extra or {})


@contextlib.contextmanager
def secrets_in_env() -> Iterator[None]:
    """The AMI secret and the API tokens, where production keeps them: the environment."""
    wanted = {"DIALERD_AMI__SECRET": SECRET}
    wanted |= {f"DIALERD_API__TOKENS__{name.upper()}": token for name, token in TOKENS.items()}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.asynccontextmanager
async def http_daemon(
    workdir: Path, *, extra: dict[str, Any] | None = None, time_scale: float = 10.0
) -> AsyncIterator[Daemon]:
    """Run the whole daemon until the block ends; the engine dials through the simulator."""
    with secrets_in_env():
        async with AmiSimulator(secret=SECRET, time_scale=time_scale) as sim:
            data = config_data(workdir, sim.port, extra)
            config = workdir / "dialerd.yaml"
            config.write_text(yaml.safe_dump(data))
            recordings = Path(data["api"]["recordings_dir"])
            recordings.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (set-up, once)
            async with assembled(load_config(config)) as parts:
                task = asyncio.create_task(parts.engine.run(drain_timeout_s=5))
                try:
                    async with asyncio.timeout(10):
                        await parts.pbx.connected.wait()
                    assert parts.api is not None, "api.enabled is false"
                    yield Daemon(
                        url=f"http://127.0.0.1:{parts.api.port}",
                        config=config,
                        store=Path(data["store"]["path"]),
                        recordings=recordings,
                        sim=sim,
                        parts=parts,
                    )
                finally:
                    parts.engine.stop()
                    await task


class ThreadedDaemon:
    """``http_daemon`` on its own event loop in a thread, for synchronous clients (schemathesis)."""

    def __init__(self, workdir: Path, **kwargs: Any) -> None:
        self._workdir, self._kwargs = workdir, kwargs
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.daemon: Daemon | None = None
        self._thread = threading.Thread(target=self._main, name="test-daemon", daemon=True)

    def __enter__(self) -> Daemon:
        self._thread.start()
        self._ready.wait(30)
        if self.daemon is None:
            raise RuntimeError("the daemon did not start") from self._error
        return self.daemon

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with http_daemon(self._workdir, **self._kwargs) as daemon:
            self.daemon = daemon
            self._ready.set()
            await self._stop.wait()


async def settled(
    client: httpx.AsyncClient, lead_id: int, timeout_s: float = 10.0
) -> dict[str, Any]:
    """The lead once it has been dialed and its call has ended (polled over HTTP)."""
    async with asyncio.timeout(timeout_s):
        while True:
            response = await client.get(f"/api/v1/leads/{lead_id}")
            lead: dict[str, Any] = response.json()
            attempts = lead.get("attempts") or []
            if attempts and lead["state"] != "dialing" and attempts[-1]["status"] == "done":
                return lead
            await asyncio.sleep(0.05)


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged
