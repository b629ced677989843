"""The console as its people use it: the whole daemon running, passwords set, then a signed-in
HTTP client (with the page's CSRF token and the event stream) or a headless Chromium page.

Chromium is Debian's ``chromium`` driven by Playwright for Python (``executable_path``, never a
browser download); without it the browser tests skip with the reason, except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from dialerd.config import LoadedConfig
from dialerd.config.console_passwords import set_password
from dialerd.daemon.service import Assembled, assembled

PASSWORDS = {
    "anna": "anna-password-1",
    "boris": "boris-password-2",
    "boss": "boss-password-3",
}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def console_overrides(workdir: Path, supervisors: tuple[str, ...] = ("boss",)) -> dict[str, Any]:
    """The console on a free loopback port, with a passwords file for everyone in PASSWORDS."""
    passwords = workdir / "console.passwords"
    for name, password in PASSWORDS.items():
        set_password(passwords, name, password)
    return {
        "console": {
            "enabled": True,
            "port": 0,
            "passwords_file": str(passwords),
            "supervisors": [{"name": name} for name in supervisors],
            "card_fields": ["delivery"],
        }
    }


@dataclass
class Running:
    parts: Assembled
    url: str


@contextlib.asynccontextmanager
async def running_console(loaded: LoadedConfig) -> AsyncIterator[Running]:
    """The whole daemon (store → PBX → engine → console) until the block ends."""
    async with assembled(loaded) as parts:
        task = asyncio.create_task(parts.engine.run(drain_timeout_s=5))
        try:
            async with asyncio.timeout(15):
                await parts.pbx.connected.wait()
            assert parts.console is not None, "console.enabled is false"
            yield Running(parts, f"http://127.0.0.1:{parts.console.port}")
        finally:
            parts.engine.stop()
            await task


@dataclass
class Session:
    """A signed-in person's HTTP client, with the CSRF token their page carries."""

    client: httpx.AsyncClient
    csrf: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def post(self, path: str, body: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return await self.client.post(path, json=body, headers=headers)

    @contextlib.asynccontextmanager
    async def stream(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Follow /events in the background; the list fills with each message as it comes."""
        ready = asyncio.Event()

        async def read() -> None:
            async with self.client.stream("GET", "/events", timeout=None) as response:
                assert response.status_code == 200, response.status_code
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        self.messages.append(json.loads(line[6:]))
                        ready.set()

        task = asyncio.create_task(read())
        try:
            async with asyncio.timeout(10):
                await ready.wait()
            yield self.messages
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task

    async def wait_for(self, kind: str, timeout_s: float = 15, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                for message in self.messages:
                    if message["type"] == kind and all(
                        message.get(k) == v for k, v in match.items()
                    ):
                        return message
                await asyncio.sleep(0.02)


def signin_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the sign-in form"
    return found.group(1)


@contextlib.asynccontextmanager
async def signed_in(url: str, name: str, password: str | None = None) -> AsyncIterator[Session]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        form = await client.get("/signin")
        response = await client.post(
            "/signin",
            data={
                "name": name,
                "password": password or PASSWORDS[name],
                "csrf": signin_token(form.text),
            },
        )
        assert response.status_code == 303, response.text
        home = await client.get(response.headers["location"])
        found = re.search(r'<meta name="csrf" content="([^"]+)">', home.text)
        assert found, home.text[:500]
        yield Session(client, found.group(1))


def chromium_path() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        reason = "chromium not installed (Debian package chromium; ./dev test installs it)"
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


@contextlib.asynccontextmanager
async def chromium_page(
    width: int = 1200, height: int = 860, extra_flags: tuple[str, ...] = ()
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh page in headless Chromium (Debian's, through Playwright), and the console
    errors it logs (``console.error`` calls and uncaught exceptions), for tests to assert
    empty."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=[*CHROMIUM_FLAGS, *extra_flags]
        )
        try:
            context = await browser.new_context(
                viewport={"width": width, "height": height}, locale="en-US"
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"{msg.text} {msg.location}") if msg.type == "error" else None
                ),
            )
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            yield page, problems
        finally:
            await browser.close()
