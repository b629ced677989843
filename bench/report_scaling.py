"""Time of `dialerd report` over a store holding 1M attempts (target: under 2 s).

A month of a busy centre: ~330k leads, 1M attempts (a third answered), dispositions for
the conversations, duplicates, operators' state changes and inbound queue calls, in the
shape the daemon writes them. Times the report's own read (``build_report``: totals,
daily, by operator, hourly load, speed to lead) in-process, for the whole month and by
each breakdown, and the whole command (`dialerd report --format json`, a new process,
imports included). Prints the figures and writes bench/results/report_scaling.json.

    python bench/report_scaling.py [--attempts 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from dialerd.config import load_config
from dialerd.reports.build import BREAKDOWNS, build_report
from dialerd.reports.period import days
from dialerd.store.db import open_store

RESULTS = Path(__file__).parent / "results" / "report_scaling.json"
TZ = "Europe/Moscow"
FIRST = dt.date(2026, 10, 1)
DAYS = 30
OPERATORS = [f"op{n:02d}" for n in range(40)]
OUTCOMES = ["no_answer"] * 40 + ["busy"] * 15 + ["answered"] * 33 + ["congestion"] * 4
OUTCOMES += ["failed"] * 4 + ["abandoned"] * 3 + ["unknown"]
RESULTS_MIX = ["confirmed"] * 45 + ["refused"] * 25 + ["callback"] * 15 + ["fake"] * 5
RESULTS_MIX += ["duplicate"] * 3 + ["no_decision"] * 5 + ["complaint"] * 2


def fill(path: Path, attempts: int, seed: int = 11) -> dict[str, int]:
    """Rows in time order, as the daemon writes them (ids grow with time)."""
    rng = random.Random(seed)
    zone = ZoneInfo(TZ)
    start = dt.datetime.combine(FIRST, dt.time(), zone).timestamp()
    span = DAYS * 86400
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    arrivals = sorted(start + rng.uniform(0, span) for _ in range(attempts * 10 // 27))
    leads, calls, made, lead_id = [], [], 0, 0
    for received in arrivals:
        if made >= attempts:
            break
        lead_id += 1
        count = min(rng.choice((1, 1, 2, 3, 3, 4, 5)), attempts - made)
        first = received + rng.expovariate(1 / 600)
        reached, at = 0, first
        for number in range(1, count + 1):
            made += 1
            outcome = rng.choice(OUTCOMES)
            talked = outcome in ("answered", "abandoned")
            talk = rng.uniform(20, 400) if talked else None
            operator = rng.choice(OPERATORS) if outcome == "answered" else None
            answered_at = at + rng.uniform(3, 25) if talked else None
            # an operator takes a connected customer within a second or so; 2% come late
            delay = rng.uniform(2.1, 6) if rng.random() < 0.02 else rng.uniform(0.1, 0.9)
            operator_at = answered_at + delay if operator and answered_at else None
            calls.append((at, lead_id, number, operator, answered_at, outcome, talk, operator_at))
            reached |= outcome == "answered"
            at += rng.uniform(600, 7200)
        leads.append(
            (
                lead_id,
                f"+7916{lead_id:07d}",
                rng.randint(50000, 900000),
                received,
                count,
                reached,
                first,
                received + 900,
                received,
            )
        )
    calls.sort()
    tries, disps = [], []
    for attempt_id, (at, lead, number, operator, answered_at, outcome, talk, op_at) in enumerate(
        calls, start=1
    ):
        tries.append(
            (
                attempt_id,
                lead,
                number,
                f"c{attempt_id}",
                f"a{attempt_id}",
                "default",
                f"+7916{lead:07d}",
                operator,
                at,
                at,
                answered_at,
                at + 30 + (talk or 0),
                outcome,
                talk,
                op_at,
            )
        )
        if outcome == "answered":
            result = rng.choice(RESULTS_MIX)
            disps.append(
                (
                    attempt_id,
                    lead,
                    result,
                    rng.randint(50000, 900000) if result == "confirmed" else None,
                    '["upsell"]' if rng.random() < 0.1 else "[]",
                    operator,
                    at + 60 + (talk or 0),
                    rng.uniform(5, 90),
                )
            )
    disps.sort(key=lambda row: row[6])
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO leads (id, campaign, phone, amount_minor, received_at, state, rank, due_at,"
        " attempts, reached, first_attempt_at, deadline_at, updated_at)"
        " VALUES (?, 'default', ?, ?, ?, 'closed', 1, 0, ?, ?, ?, ?, ?)",
        leads,
    )
    conn.executemany(
        "INSERT INTO attempts (id, lead_id, number, call_id, action_id, campaign, phone, operator,"
        " status, created_at, originated_at, answered_at, ended_at, outcome, talk_s, operator_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?)",
        tries,
    )
    conn.executemany(
        "INSERT INTO dispositions (attempt_id, lead_id, result, amount_minor, flags, operator,"
        " created_at, wrapup_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        disps,
    )
    conn.executemany(
        "INSERT INTO duplicates (campaign, phone, duplicate_of, rule, received_at)"
        " VALUES ('default', '+79160000000', ?, 'phone_and_order', ?)",
        [(rng.randint(1, lead_id), start + rng.uniform(0, span)) for _ in range(lead_id // 20)],
    )
    spans = []
    for operator in OPERATORS:
        for day in range(DAYS):
            at = start + day * 86400 + 10 * 3600
            while at < start + day * 86400 + 22 * 3600:
                length = rng.uniform(30, 900)
                spans.append(
                    (operator, rng.choice(("free", "busy", "busy", "paused")), at, at + length)
                )
                at += length
    conn.executemany(
        "INSERT INTO operator_states (operator, state, started_at, ended_at, seen_until)"
        " VALUES (?, ?, ?, ?, ?)",
        [(*s, s[3]) for s in spans],
    )
    conn.executemany(
        "INSERT INTO inbound_calls (uniqueid, queue, joined_at, wait_s, outcome)"
        " VALUES (?, 'inbound', ?, ?, ?)",
        [
            (
                f"in{n}",
                start + rng.uniform(0, span),
                rng.uniform(0, 60),
                rng.choice(("answered", "answered", "answered", "abandoned")),
            )
            for n in range(30000)
        ],
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return {
        "leads": lead_id,
        "attempts": attempt_id,
        "dispositions": len(disps),
        "operator_states": len(spans),
    }


async def timed_reports(config: Path, runs: int) -> dict[str, float]:
    settings = load_config(config).settings
    period = days(FIRST, FIRST + dt.timedelta(days=DAYS - 1), TZ)
    figures: dict[str, float] = {}
    async with open_store(settings.store.path) as db:
        for by in (None, *BREAKDOWNS):
            times = []
            for _ in range(runs):
                began = time.perf_counter()
                await build_report(db, settings, period, by, now=period.end)
                times.append(time.perf_counter() - began)
            figures[f"build_report_by_{by or 'none'}_median_s"] = statistics.median(times)
    return figures


def timed_command(config: Path, runs: int) -> float:
    last = FIRST + dt.timedelta(days=DAYS - 1)
    command = [
        sys.executable,
        "-c",
        "from dialerd.cli import main; raise SystemExit(main())",
        "report",
        "--config",
        str(config),
        "--from",
        FIRST.isoformat(),
        "--to",
        last.isoformat(),
        "--format",
        "json",
    ]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ))
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "dialerd.sqlite3"
        config = Path(tmp) / "dialerd.yaml"
        config.write_text(
            yaml.safe_dump({"store": {"path": str(store)}, "window": {"timezone": TZ}})
        )
        asyncio.run(_migrate(config))
        began = time.perf_counter()
        sizes = fill(store, args.attempts)
        print(f"filled {sizes} in {time.perf_counter() - began:.1f} s")
        figures = asyncio.run(timed_reports(config, args.runs))
        figures["command_median_s"] = timed_command(config, args.runs)
    for name, value in figures.items():
        print(f"{name:40s} {value:7.3f} s")
    verdict = "met" if figures["command_median_s"] < 2.0 else "MISSED"
    print(f"target: `dialerd report` over {sizes['attempts']:,} attempts < 2 s — {verdict}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "sizes": sizes,
                "runs": args.runs,
                **figures,
                "target_s": 2.0,
                "load": os.getloadavg(),
            },
            indent=2,
        )
        + "\n"
    )


async def _migrate(config: Path) -> None:
    async with open_store(load_config(config).settings.store.path):
        pass


if __name__ == "__main__":
    main()
