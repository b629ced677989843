"""The HTML report in a real browser (issue 6): headless Chromium opens the file, nothing is
logged to its console, and the charts are painted (the screenshot's chart regions hold the
series' colours, not white). Driven over the DevTools protocol rather than by grepping
Chromium's stderr: console calls, uncaught exceptions and browser-side errors (a blocked
load, a CSP violation) arrive as typed events, so nothing depends on log line formats.

Chromium is the Debian package ``chromium`` (``./dev test`` installs it as root). Without it
the tests skip with the reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.sample_reports import (
    HOSTILE,
    contrast_with_white,
    empty_report,
    sample_report,
    svg_charts,
)
from websockets.sync.client import ClientConnection, connect

from dialerd.reports import html
from dialerd.reports.html import render_html

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
WIDTH = 1280
# the lines' colours; the bars' colours and areas are read from the SVG itself
LINE_COLOURS = {
    "chart-daily": [html.ORANGE],
    "chart-hourly": [html.GREEN, html.RED],
    "chart-speed": [],
    "chart-outcomes": [],
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.fixture(scope="module")
def browser_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One headless Chromium for the module; yields its browser-level DevTools URL."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        reason = "chromium not installed (Debian package chromium; ./dev test installs it)"
        if in_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while len(lines := _lines(port_file)) < 2:
            assert process.poll() is None, f"chromium exited with {process.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        yield f"ws://127.0.0.1:{lines[0]}{lines[1]}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


@dataclass
class Page:
    """What one page load left behind: its console problems, a full-page PNG, chart boxes."""

    problems: list[str]
    png: bytes
    boxes: dict[str, dict[str, float]]
    dom: dict[str, Any] = field(default_factory=dict)


class DevTools:
    """A tiny DevTools-protocol client over one flattened page session."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self.next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            left = deadline - time.monotonic()
            assert left > 0, f"no {event} within {timeout}s"
            self.events.append(json.loads(self.ws.recv(timeout=left)))

    def settle(self, seconds: float) -> None:
        """Collect late events (a timer's error, a late load) for a moment."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break

    def problems(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in {
                "error",
                "warning",
                "assert",
            }:
                args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                found.append(f"console.{params['type']}: {args}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(
                    f"exception: {details.get('exception', {}).get('description', details['text'])}"
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] in {"error", "warning"}:
                entry = params["entry"]
                found.append(f"log {entry['source']}: {entry['text']} {entry.get('url', '')}")
            elif method == "Page.javascriptDialogOpening":
                found.append(f"dialog: {params['message']}")
        return found


BOXES_JS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('svg.chart')].map(
  s => { const r = s.getBoundingClientRect();
         return [s.id, {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}]; })))"""
DOM_JS = """JSON.stringify({
  scripts: document.scripts.length,
  text: document.body.innerText,
  bars: Object.fromEntries([...document.querySelectorAll('svg.chart')].map(
    s => [s.id, [...s.querySelectorAll('rect.bar')].map(b => b.getBBox().height)])),
  nodata: document.querySelectorAll('.nodata').length})"""


def open_page(browser_ws: str, path: Path) -> Page:
    with connect(browser_ws, max_size=None) as ws:
        tools = DevTools(ws)
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        tools.session = tools.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable")
        metrics = {"width": WIDTH, "deviceScaleFactor": 1, "mobile": False}
        tools.call("Emulation.setDeviceMetricsOverride", height=900, **metrics)
        tools.call("Page.navigate", url=path.as_uri())
        tools.wait_for("Page.loadEventFired")
        tools.settle(0.5)

        def evaluate(expression: str) -> Any:
            result = tools.call("Runtime.evaluate", expression=expression, returnByValue=True)
            return result["result"]["value"]

        height = int(evaluate("document.documentElement.scrollHeight"))
        tools.call("Emulation.setDeviceMetricsOverride", height=height, **metrics)
        tools.settle(0.2)
        png = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
        page = Page(tools.problems(), png, json.loads(evaluate(BOXES_JS)))
        if evaluate("document.querySelector('body') !== null"):
            page.dom = json.loads(evaluate(DOM_JS))
        tools.call("Target.closeTarget", targetId=target)
        return page


def colour_pixels(png: bytes, box: dict[str, float], colour: str, tolerance: int = 8) -> int:
    """Pixels of ``colour`` (±tolerance per channel) inside ``box`` of the screenshot."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    region = image.crop(
        (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
    )
    want = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(
        n
        for n, rgb in region.getcolors(region.width * region.height) or []
        if all(abs(a - b) <= tolerance for a, b in zip(rgb, want, strict=True))
    )


def ink(png: bytes, box: dict[str, float]) -> tuple[float, int]:
    """Share of pixels that are not the background's colour, and how many colours there are."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    region = image.crop(
        (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
    )
    colours = region.getcolors(region.width * region.height) or []
    background = max(colours)[0]
    return 1 - background / (region.width * region.height), len(colours)


def bar_areas(svg: ET.Element, scale: float) -> dict[str, float]:
    """Colour → screen pixels its bars (or segments) must cover: each drawn rectangle at
    ``scale``, less a pixel on each side where anti-aliasing blends it with its neighbours."""
    areas: dict[str, float] = {}
    for rect in svg.iter("rect"):
        if rect.get("class") in {"bar", "segment"}:
            width = float(rect.get("width", "0")) * scale - 2
            height = float(rect.get("height", "0")) * scale - 2
            fill = rect.get("fill", "")
            areas[fill] = areas.get(fill, 0.0) + max(width, 0) * max(height, 0)
    return areas


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_report_opens_without_console_problems_and_paints_its_charts(
    browser_ws: str, tmp_path: Path
) -> None:
    text = render_html(sample_report())
    page = open_page(browser_ws, write(tmp_path, "report.html", text))
    (tmp_path / "report.png").write_bytes(page.png)
    if keep := os.environ.get("DIALERD_KEEP_SCREENSHOT"):
        Path(keep).write_bytes(page.png)

    assert page.problems == []
    assert set(page.boxes) == set(LINE_COLOURS)
    for chart, svg in svg_charts(text).items():
        box = page.boxes[chart]
        assert box["width"] > 600 and box["height"] > 40, (chart, box)
        share, distinct = ink(page.png, box)
        assert share > 0.03 and distinct > 20, (chart, share, distinct)
        scale = box["width"] / float(svg.get("width", "nan"))
        for colour, area in bar_areas(svg, scale).items():
            assert contrast_with_white(colour) >= 3, (chart, colour)
            painted = colour_pixels(page.png, box, colour)
            assert painted >= 0.95 * area, (chart, colour, painted, area)
        for colour in LINE_COLOURS[chart]:
            assert colour_pixels(page.png, box, colour) > 600, (chart, colour)


def test_bars_are_drawn_at_heights_proportional_to_the_data(
    browser_ws: str, tmp_path: Path
) -> None:
    page = open_page(browser_ws, write(tmp_path, "report.html", render_html(sample_report())))

    heights = page.dom["bars"]["chart-daily"]
    confirmed = [r.metrics.leads_confirmed for r in sample_report().daily]
    assert len(heights) == len(confirmed)
    for height, value in zip(heights, confirmed, strict=True):
        assert height == pytest.approx(heights[0] * value / confirmed[0], rel=0.01)


def test_hostile_operator_name_is_shown_as_text_and_runs_nothing(
    browser_ws: str, tmp_path: Path
) -> None:
    page = open_page(browser_ws, write(tmp_path, "report.html", render_html(sample_report())))

    assert page.dom["scripts"] == 0
    assert HOSTILE in page.dom["text"]
    assert page.problems == []  # no CSP violation either: nothing reached the parser as markup


def test_empty_report_opens_cleanly_with_no_data_notes(browser_ws: str, tmp_path: Path) -> None:
    page = open_page(browser_ws, write(tmp_path, "empty.html", render_html(empty_report())))

    assert page.problems == []
    assert page.boxes == {}
    assert page.dom["nodata"] >= 4
    assert "No days in this period." in page.dom["text"]


def test_the_console_check_catches_errors(browser_ws: str, tmp_path: Path) -> None:
    """Proof that the detector can fail: a page that errs in each way it watches for."""
    broken = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head><body>'
        '<script>console.error("boom"); undefinedFunction();</script>'
        '<img src="missing-picture.png" alt=""></body></html>'
    )
    blocked = render_html(empty_report()).replace(
        "</main>", '</main><img src="https://example.invalid/x.png" alt=""><script>1</script>'
    )

    broken_page = open_page(browser_ws, write(tmp_path, "broken.html", broken))
    blocked_page = open_page(browser_ws, write(tmp_path, "blocked.html", blocked))

    assert any("console.error: boom" in p for p in broken_page.problems)
    assert any("undefinedFunction" in p for p in broken_page.problems)
    assert any("missing-picture.png" in p for p in broken_page.problems)
    assert any("Content Security Policy" in p for p in blocked_page.problems), blocked_page.problems


def test_the_blankness_check_catches_a_blank_page(browser_ws: str, tmp_path: Path) -> None:
    blank = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>'
    page = open_page(browser_ws, write(tmp_path, "blank.html", blank))
    box = {"x": 0, "y": 0, "width": WIDTH, "height": 600}

    share, distinct = ink(page.png, box)
    assert share < 0.001 and distinct <= 2
    assert colour_pixels(page.png, box, html.BLUE) == 0
