"""``/docs`` on a LAN with no internet (issue 15): Swagger UI's files come from the package
(``./dev assets`` copies them from the npm registry, pinned by docs-assets/package-lock.json),
so headless Chromium, with every request beyond loopback refused, renders the operations."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, async_playwright, expect
from support.api import http_daemon
from support.console import CHROMIUM_FLAGS, chromium_path

from dialerd.api.app import SWAGGER_DIR

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def assets_installed() -> None:
    if (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        return
    reason = f"Swagger UI files not in {SWAGGER_DIR} (./dev assets, run by ./dev test, copies them)"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


async def test_docs_render_with_no_request_beyond_loopback(tmp_path):
    assets_installed()
    refused: list[str] = []

    async def offline(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    async with http_daemon(tmp_path) as daemon, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page()
            await page.route("**/*", offline)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            response = await page.goto(daemon.url + "/docs")
            assert response is not None and response.status == 200
            await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
                "dialerd", timeout=15_000
            )
            paths = page.locator(".opblock-summary-path")
            await expect(paths.filter(has_text="/api/v1/leads/batch")).to_have_count(1)
            await expect(
                paths.filter(has_text="/api/v1/calls/{call_id}/disposition")
            ).to_have_count(1)
            assert await paths.count() >= 6
        finally:
            await browser.close()
    assert refused == [] and errors == []


async def test_without_its_files_docs_says_so_and_points_at_openapi(tmp_path, monkeypatch):
    from dialerd.api import app

    monkeypatch.setattr(app, "SWAGGER_DIR", tmp_path / "none")
    page = app.swagger_page()
    assert page.status_code == 503 and b"/openapi.json" in page.body
