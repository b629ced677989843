"""The wallboard under load: 50 operators and 200 calls in flight on the AMI simulator, one
supervisor's page in headless Chromium, for ``--minutes`` (default 10).

The whole daemon runs in this process (store → simulator → engine → console). Two campaigns
keep the lines full: ``default`` (customer_first, queue ``sales`` with 50 members, customers
talk 20–60 s) and ``bulk`` (no operator group: only ``max_concurrent_calls`` = 200 limits it;
customers ring 2–8 s and talk 40–120 s). Every few seconds an operator is paused or resumed
in the simulator's queue, as a supervisor's colleague would, so ``state`` messages flow too.

Measured in the page (an init script wraps ``EventSource`` and notes when each message's
handler has finished, i.e. the DOM is updated):
- ``wallboard``: from the moment the daemon started building the message (its ``at``) to the
  page having applied it — the stream's and the page's own latency;
- ``state``: from the moment the daemon parsed the operator's AMI event (its ``since``) to the
  page having applied it — event → page for an operator's change;
- the wallboard's numbers as such follow engine facts with at most the feed's coalescing
  second on top (``INTERVAL_S``); that delay is by design, not measured here.
- the page's JS heap (CDP ``Runtime.getHeapUsage`` after ``HeapProfiler.collectGarbage``) and
  its DOM node count every 15 s; the trend is a least-squares slope after the first minute.

Prints the figures and writes bench/results/wallboard.json.

    PYTHONPATH=tests .venv/bin/python bench/wallboard.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright
from support.console import (
    CHROMIUM_FLAGS,
    PASSWORDS,
    chromium_path,
    console_overrides,
    running_console,
)
from support.scenarios import pbx_config

from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.web.wallboard_feed import INTERVAL_S

RESULTS = Path(__file__).parent / "results" / "wallboard.json"
SECRET = "bench-secret"
OPERATORS = [f"op{n:02d}" for n in range(1, 51)]
LINES = 200
TAIL = os.sysconf("SC_CLK_TCK")

INSTRUMENT = """
(() => {
  const Original = window.EventSource;
  window.__bench = { wallboard: [], state: [] };
  window.EventSource = class extends Original {
    set onmessage(handler) {
      super.onmessage = (e) => {
        handler(e);
        const applied = performance.timeOrigin + performance.now();
        const m = JSON.parse(e.data);
        if (m.type === "wallboard") window.__bench.wallboard.push([m.at * 1000, applied]);
        else if (m.type === "state") window.__bench.state.push([m.since * 1000, applied]);
      };
    }
    get onmessage() { return super.onmessage; }
  };
})();
"""


def outcome(number: str) -> SimOutcome:
    """Stable per number: bulk customers (+7926...) ring, then talk long; sales ones talk less."""
    r = random.Random(zlib.crc32(number.encode()))
    if number.startswith("7926"):
        return SimOutcome("answer", ring_s=r.uniform(2, 8), talk_s=r.uniform(40, 120))
    return SimOutcome("answer", ring_s=r.uniform(0.5, 3), talk_s=r.uniform(20, 60))


def config(workdir: Path, port: int) -> Any:
    extra = {
        "dialing": {
            "max_concurrent_calls": LINES,
            "context": "bulk",
            "exten": "700",
            "originate_timeout_s": 30,
        },
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in OPERATORS
        ],
        "campaigns": {
            "default": {"mode": "customer_first", "group": "sales", "max_attempts": 1},
            "bulk": {"mode": "customer_first", "max_attempts": 1},
        },
        **console_overrides(workdir),
    }
    return pbx_config(workdir / "bench.sqlite3", "127.0.0.1", port, SECRET, extra=extra)


def quantiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def q(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {
        "n": len(ordered),
        "p50_ms": q(0.5),
        "p90_ms": q(0.9),
        "p99_ms": q(0.99),
        "max_ms": round(ordered[-1], 1),
    }


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of value over minutes."""
    if len(samples) < 3:
        return None
    xs = [t / 60 for t, _ in samples]
    ys = [v for _, v in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


def cpu_s() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TAIL


async def add_leads(db: Any, count: int) -> None:
    """``count`` leads of each campaign, alternating: both are dialed from the start."""
    now = time.time()
    async with db.transaction() as conn:
        for n in range(count):
            for campaign, prefix in (("default", "916"), ("bulk", "926")):
                lead = store.NewLead(phone=Phone(f"+7{prefix}{n:07d}"), campaign=campaign)
                placement = store.Placement(deadline_at=now + 900)
                await store.insert_lead_in(conn, lead, now, placement)


async def run(minutes: float) -> dict[str, Any]:
    rule_rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="dialerd-wallboard-") as tmp:
        workdir = Path(tmp)
        async with AmiSimulator(secret=SECRET, time_scale=1.0, rule=outcome) as sim:
            for name in OPERATORS:
                sim.add_member("sales", f"Local/{name}@operators", name)
            sim.route_to_queue("operators", "600", "sales")
            async with running_console(config(workdir, sim.port)) as daemon:
                db, engine = daemon.parts.db, daemon.parts.engine
                await add_leads(db, 6000)
                engine.wake()
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(
                        executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
                    )
                    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
                    await context.add_init_script(INSTRUMENT)
                    page = await context.new_page()
                    errors: list[str] = []
                    page.on(
                        "console", lambda m: errors.append(m.text) if m.type == "error" else None
                    )
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    await page.goto(daemon.url + "/signin")
                    await page.get_by_label("Name").fill("boss")
                    await page.get_by_label("Password").fill(PASSWORDS["boss"])
                    await page.get_by_role("button", name="Sign in").click()
                    await page.wait_for_selector('[data-number="calls_talking"]')
                    cdp = await context.new_cdp_session(page)
                    started, cpu0 = time.monotonic(), cpu_s()
                    wallboard: list[float] = []
                    states: list[float] = []
                    heap: list[tuple[float, float]] = []
                    nodes: list[tuple[float, float]] = []
                    in_flight: list[int] = []
                    shown: list[dict[str, int]] = []
                    next_sample = 0.0
                    while (elapsed := time.monotonic() - started) < minutes * 60:
                        member = sim.members[rule_rng.randrange(len(sim.members))]
                        sim.set_member(member.interface, paused=not member.paused, reason="bench")
                        in_flight.append(engine.in_flight)
                        await asyncio.sleep(2.0)
                        got = await page.evaluate(
                            "() => { const b = window.__bench; const out = {w: b.wallboard, s: b.state};"
                            " b.wallboard = []; b.state = []; return out; }"
                        )
                        wallboard += [applied - at for at, applied in got["w"]]
                        states += [applied - at for at, applied in got["s"]]
                        if elapsed >= next_sample:
                            next_sample += 15.0
                            await cdp.send("HeapProfiler.collectGarbage")
                            usage = await cdp.send("Runtime.getHeapUsage")
                            heap.append((elapsed, usage["usedSize"]))
                            count = await page.evaluate(
                                "() => document.getElementsByTagName('*').length"
                            )
                            nodes.append((elapsed, count))
                            shown.append(
                                await page.evaluate(
                                    "() => Object.fromEntries([...document.querySelectorAll('[data-number]')]"
                                    ".map(t => [t.dataset.number, t.querySelector('.value').textContent]))"
                                )
                            )
                            print(
                                f"{elapsed / 60:5.1f} min  in flight {engine.in_flight:3d}  "
                                f"heap {usage['usedSize'] / 1e6:6.2f} MB  nodes {count}  "
                                f"messages {len(wallboard)} wallboard, {len(states)} state"
                            )
                    cpu = cpu_s() - cpu0
                    console = daemon.parts.console
                    sent = console.feed.sent if console is not None and console.feed else None
                    await browser.close()
                engine.stop()
        after_warmup = [(t, v) for t, v in heap if t >= 60] or heap
        result = {
            "what": "wallboard stream and page under 50 operators and up to 200 calls in flight (AMI simulator)",
            "minutes": round(minutes, 2),
            "operators": len(OPERATORS),
            "lines": LINES,
            "calls_in_flight": {"max": max(in_flight), "median": statistics.median(in_flight)},
            "coalescing_interval_s": INTERVAL_S,
            "wallboard_build_to_page": quantiles(wallboard),
            "operator_event_to_page": quantiles(states),
            "wallboard_messages_sent": sent,
            "heap_used_mb": {
                "first": round(heap[0][1] / 1e6, 3),
                "last": round(heap[-1][1] / 1e6, 3),
                "min": round(min(v for _, v in heap) / 1e6, 3),
                "max": round(max(v for _, v in heap) / 1e6, 3),
                "slope_kb_per_min_after_1_min": None
                if (slope := slope_per_minute(after_warmup)) is None
                else round(slope / 1e3, 2),
                "samples": [(round(t), round(v / 1e6, 3)) for t, v in heap],
            },
            "dom_nodes": {
                "first": nodes[0][1],
                "last": nodes[-1][1],
                "max": max(v for _, v in nodes),
            },
            "page_numbers_last": shown[-1] if shown else None,
            "console_errors": errors[:10],
            "process_cpu_s": round(cpu, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.minutes))
    w, s, h = (
        result["wallboard_build_to_page"],
        result["operator_event_to_page"],
        result["heap_used_mb"],
    )
    print(
        f"calls in flight: max {result['calls_in_flight']['max']}, median {result['calls_in_flight']['median']}"
    )
    print(
        f"wallboard build → page: p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms, max {w['max_ms']} ms ({w['n']} messages)"
    )
    print(
        f"operator event → page: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms ({s['n']} messages)"
    )
    print(
        f"page heap: {h['first']} → {h['last']} MB, slope after 1 min {h['slope_kb_per_min_after_1_min']} kB/min"
    )
    print(f"DOM nodes: {result['dom_nodes']}; console errors: {len(result['console_errors'])}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
