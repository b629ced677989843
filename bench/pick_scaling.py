"""Time to pick the next lead and to plan the next 100, on stores of 10k, 100k and 1M leads.

The mix is a working centre's: new leads, retries waiting for their delay, retries
due, callbacks (some due, most later), and a majority already closed. The pick is
the engine's own query path (``due_leads`` + the policy's judge) on the real schema
with its indexes; the figure that must not grow with the store. Targets: pick under
1 ms at 1M leads; the 1M/10k ratio under 2. Prints the figures and writes
bench/results/pick_scaling.json.

    python bench/pick_scaling.py [--sizes 10000 100000 1000000] [--runs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from dialerd.config import load_config
from dialerd.dialer.planning import plan
from dialerd.policy.pick import Dial, judge
from dialerd.store import attempts, due
from dialerd.store.db import open_store

RESULTS = Path(__file__).parent / "results" / "pick_scaling.json"
NOW = 1_795_000_000.0  # a Monday, 12:00 in Moscow: the window is open


def fill(path: Path, size: int, seed: int = 7) -> None:
    """Bulk rows in the shape the daemon writes (ranks of the tiers scheme)."""
    rng = random.Random(seed)
    rows = []
    for n in range(size):
        kind = rng.random()
        received = NOW - rng.uniform(0, 30 * 86400)
        phone = f"+7916{n:07d}"
        if kind < 0.05:  # new
            row = ("waiting", 1, 0, received, received + 900, None, None)
        elif kind < 0.15:  # retry due now
            row = (
                "waiting",
                rng.choice((2, 4)),
                rng.randint(1, 5),
                NOW - rng.uniform(0, 7200),
                None,
                None,
                None,
            )
        elif kind < 0.35:  # retry waiting for its delay
            row = (
                "waiting",
                rng.choice((2, 4)),
                rng.randint(1, 5),
                NOW + rng.uniform(60, 7200),
                None,
                None,
                None,
            )
        elif kind < 0.38:  # callbacks, mostly later
            due = NOW + rng.uniform(-3600, 3 * 86400)
            row = ("waiting", 3, rng.randint(1, 3), due, None, due, None)
        else:  # closed
            row = (
                "closed",
                4,
                rng.randint(1, 7),
                received,
                None,
                None,
                rng.choice(("reached", "exhausted")),
            )
        state, rank, attempts, due, deadline, callback, reason = row
        rows.append(
            (phone, received, state, rank, due, callback, attempts, deadline, reason, received)
        )
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO leads (phone, received_at, state, rank, due_at, callback_at, attempts,"
            " deadline_at, close_reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("ANALYZE")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(path: Path, runs: int) -> dict[str, float]:
    policy = load_config(None).settings.policy
    verdict = partial(judge, now=NOW, policy=policy)
    async with open_store(path) as db:
        picks, claims, plans = [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            for lead in await due.due_leads(db.conn, NOW, policy.ranks, 1):
                if isinstance(verdict(lead), Dial):
                    break
            picks.append((time.perf_counter() - t0) * 1000)
        for _ in range(max(20, runs // 10)):
            t0 = time.perf_counter()
            claim = await attempts.claim_next(db, NOW, policy.ranks, verdict)
            claims.append((time.perf_counter() - t0) * 1000)
            assert claim is not None
            await attempts.unclaim(db, claim, NOW)
        for _ in range(max(10, runs // 30)):
            t0 = time.perf_counter()
            decided = await plan(db, NOW, policy, 100)
            plans.append((time.perf_counter() - t0) * 1000)
            assert sum(d.callable for d in decided) == 100
    return {
        "pick_median_ms": round(statistics.median(picks), 4),
        "pick_p99_ms": round(pct(picks, 0.99), 4),
        "claim_median_ms": round(statistics.median(claims), 4),
        "plan100_median_ms": round(statistics.median(plans), 3),
    }


async def prepare(path: Path) -> None:
    async with open_store(path):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    from dialerd.daemon.logs import configure_logging

    configure_logging("warning", "console")
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"leads-{size}.sqlite3"
            asyncio.run(prepare(path))
            t0 = time.perf_counter()
            fill(path, size)
            filled = time.perf_counter() - t0
            figures[str(size)] = asyncio.run(measure(path, args.runs))
            row = figures[str(size)]
            print(
                f"{size:>9,} leads (filled in {filled:.1f} s): pick median {row['pick_median_ms']:.3f} ms"
                f" p99 {row['pick_p99_ms']:.3f} ms | claim+commit {row['claim_median_ms']:.3f} ms"
                f" | plan next 100 {row['plan100_median_ms']:.2f} ms"
            )
    small, large = str(min(args.sizes)), str(max(args.sizes))
    ratio = figures[large]["pick_median_ms"] / figures[small]["pick_median_ms"]
    print(
        f"pick ratio {large}/{small}: {ratio:.2f} (target < 2); pick at {large}: "
        f"{figures[large]['pick_median_ms']:.3f} ms (target < 1 ms)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "pick_scaling",
                "sizes": figures,
                "pick_ratio_largest_smallest": round(ratio, 3),
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if ratio < 2 and figures[large]["pick_median_ms"] < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
