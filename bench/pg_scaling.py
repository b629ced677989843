"""The PostgreSQL store: pick and claim+commit time on stores of 100k and 1M leads, and
claims per second with 1, 2 and 4 daemons on one pool of leads.

The store is the harness's real PostgreSQL (``tests/support/postgres.py``: Debian's server
in a temporary directory, loopback only, fsync off as in the tests: the figures are the
engine's, not the disk's). The lead mix is ``pick_scaling.py``'s (a working centre's: new
leads, retries, callbacks, most closed). Pick: the engine's query (``due_leads``) as the
claim runs it (rows locked, inside its transaction), and the same read without locks
(``plan``, ``explain``) beside it; claim: ``claim_next`` with a lease, committed, then taken
back. Targets (issue): pick <= 1 ms, claim+commit <= 5 ms p99 on loopback. Claims per
second: each daemon is a pool of its own with 4 lines claiming until the due leads run
out; no lead may be claimed twice (leases hold a unique lead id, and every lead's attempts
are counted after). ``--pbx-lines N``: every claim is for one PBX with N lines, counted
over every daemon's calls (``ami[].max_concurrent_calls`` on a shared store: claims for
the PBX take turns); N must exceed the claims made (they are never finished). Prints the
figures and writes bench/results/pg_scaling.json.

    PYTHONPATH=tests python bench/pg_scaling.py [--sizes 100000 1000000] [--runs 300]
        [--pbx-lines N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pick_scaling import NOW, pct  # noqa: E402
from support.postgres import start_postgres  # noqa: E402

from dialerd.config import load_config  # noqa: E402
from dialerd.config.store import postgres_target  # noqa: E402
from dialerd.policy.pick import Dial, judge  # noqa: E402
from dialerd.store import attempts, daemons, due, sql  # noqa: E402
from dialerd.store.pg import PgDatabase, open_pg_store  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "pg_scaling.json"
LINES_PER_DAEMON = 4
LEASE_S = 60.0


def lead_rows(size: int, seed: int = 7) -> list[tuple[object, ...]]:
    """``pick_scaling.fill``'s mix, as rows for COPY (ids given: PostgreSQL's leads take them)."""
    import random

    rng = random.Random(seed)
    rows = []
    for n in range(1, size + 1):
        kind = rng.random()
        received = NOW - rng.uniform(0, 30 * 86400)
        if kind < 0.05:
            state, rank, tries, due_at, deadline, callback, reason = (
                "waiting", 1, 0, received, received + 900, None, None,
            )  # fmt: skip
        elif kind < 0.15:
            state, rank, tries, due_at = (
                "waiting",
                rng.choice((2, 4)),
                rng.randint(1, 5),
                NOW - rng.uniform(0, 7200),
            )
            deadline = callback = reason = None
        elif kind < 0.35:
            state, rank, tries, due_at = (
                "waiting",
                rng.choice((2, 4)),
                rng.randint(1, 5),
                NOW + rng.uniform(60, 7200),
            )
            deadline = callback = reason = None
        elif kind < 0.38:
            due_at = NOW + rng.uniform(-3600, 3 * 86400)
            state, rank, tries, deadline, callback, reason = (
                "waiting",
                3,
                rng.randint(1, 3),
                None,
                due_at,
                None,
            )
        else:
            state, rank, tries, due_at = "closed", 4, rng.randint(1, 7), received
            deadline = callback = None
            reason = rng.choice(("reached", "exhausted"))
        rows.append(
            (
                n,
                f"+7916{n:07d}",
                received,
                state,
                rank,
                due_at,
                callback,
                tries,
                deadline,
                reason,
                received,
            )
        )
    return rows


async def fill(db: PgDatabase, size: int) -> float:
    started = time.perf_counter()
    async with db.pool.acquire() as conn:
        # the reports' rollup triggers are no part of the pick: off for the bulk load only
        await conn.execute("SET session_replication_role = replica")
        await conn.copy_records_to_table(
            "leads",
            records=lead_rows(size),
            columns=[
                "id", "phone", "received_at", "state", "rank", "due_at", "callback_at",
                "attempts", "deadline_at", "close_reason", "updated_at",
            ],
        )  # fmt: skip
        await conn.execute("SET session_replication_role = DEFAULT")
        await conn.execute("ANALYZE")
    return time.perf_counter() - started


async def latencies(db: PgDatabase, runs: int, pbx_lines: int | None) -> dict[str, float]:
    policy = load_config(None).settings.policy
    verdict = partial(judge, now=NOW, policy=policy)
    await daemons.register(db, "bench", NOW)
    lease = attempts.Lease("bench", LEASE_S)
    picks, reads, claims = [], [], []
    for _ in range(runs):
        async with db.rolled_back() as conn:  # the claim's own statement, its locks taken
            t0 = time.perf_counter()
            for lead in await due.due_leads(conn, NOW, policy.ranks, 1, claim=True):
                if isinstance(verdict(lead), Dial):
                    break
            picks.append((time.perf_counter() - t0) * 1000)
    for _ in range(runs):
        t0 = time.perf_counter()  # the same leads read without locks (plan, explain)
        await due.due_leads(db.conn, NOW, policy.ranks, 1)
        reads.append((time.perf_counter() - t0) * 1000)
    for _ in range(runs):
        t0 = time.perf_counter()
        claim = await attempts.claim_next(
            db, NOW, policy.ranks, verdict, lease=lease, pbx="bench", pbx_lines=pbx_lines
        )
        claims.append((time.perf_counter() - t0) * 1000)
        assert claim is not None
        await attempts.unclaim(db, claim, NOW)
    return {
        "pick_median_ms": round(statistics.median(picks), 4),
        "pick_p99_ms": round(pct(picks, 0.99), 4),
        "read_only_pick_median_ms": round(statistics.median(reads), 4),
        "claim_commit_median_ms": round(statistics.median(claims), 4),
        "claim_commit_p99_ms": round(pct(claims, 0.99), 4),
    }


async def claims_per_second(
    server, count: int, leads: int, pbx_lines: int | None
) -> dict[str, float]:
    """``count`` daemons, 4 lines each, claim ``leads`` due new leads until none is left."""
    name = server.new_database()
    target = postgres_target(server.url(name))
    try:
        async with open_pg_store(target, server.password) as setup:
            async with setup.pool.acquire() as conn:
                await conn.copy_records_to_table(
                    "leads",
                    records=[
                        (n, f"+7916{n:07d}", NOW, "waiting", 1, NOW, float(n), NOW)
                        for n in range(1, leads + 1)
                    ],
                    columns=["id", "phone", "received_at", "state", "rank", "due_at",
                             "deadline_at", "updated_at"],
                )  # fmt: skip
                await conn.execute("ANALYZE")
            pools = [
                await PgDatabase.open(target, server.password, pool_size=LINES_PER_DAEMON)
                for _ in range(count)
            ]
            policy = load_config(None).settings.policy
            ranks = policy.ranks
            for n, db in enumerate(pools):
                await daemons.register(db, f"d{n}", NOW)

            async def line(db: PgDatabase, daemon_id: str) -> int:
                lease = attempts.Lease(daemon_id, LEASE_S)
                got = 0
                while await attempts.claim_next(
                    db, NOW, ranks, lambda _lead: Dial(), lease=lease, pbx="bench",
                    pbx_lines=pbx_lines,
                ):  # fmt: skip
                    got += 1
                return got

            started = time.perf_counter()
            counts = await asyncio.gather(
                *(line(db, f"d{n}") for n, db in enumerate(pools) for _ in range(LINES_PER_DAEMON))
            )
            elapsed = time.perf_counter() - started
            for db in pools:
                await db.close()
            twice = await sql.rows(
                setup.conn,
                "SELECT lead_id FROM attempts GROUP BY lead_id HAVING COUNT(*) > 1",
            )
            total = await sql.row(setup.conn, "SELECT COUNT(*) FROM attempts")
        assert total is not None and int(total[0]) == leads == sum(counts), (total, counts)
        return {
            "daemons": count,
            "claims": sum(counts),
            "seconds": round(elapsed, 3),
            "claims_per_s": round(sum(counts) / elapsed, 1),
            "double_claims": len(twice),
        }
    finally:
        server.drop_database(name)


async def main(
    sizes: list[int], runs: int, daemon_counts: list[int], leads: int, pbx_lines: int | None
) -> None:
    server = start_postgres()
    results: dict[str, object] = {
        "benchmark": "pg_scaling",
        "sizes": {},
        "claims": [],
        "load_average_before": round(os.getloadavg()[0], 1),  # a shared box: say how busy
        "pbx_lines": pbx_lines,
    }
    try:
        for size in sizes:
            name = server.new_database()
            try:
                async with open_pg_store(postgres_target(server.url(name)), server.password) as db:
                    filled_s = await fill(db, size)
                    figures = await latencies(db, runs, pbx_lines)
                figures["fill_s"] = round(filled_s, 1)
                results["sizes"][str(size)] = figures  # type: ignore[index]
                print(f"{size:>9,} leads: {figures}")
            finally:
                server.drop_database(name)
        for count in daemon_counts:
            figures = await claims_per_second(server, count, leads, pbx_lines)
            results["claims"].append(figures)  # type: ignore[attr-defined]
            print(f"{count} daemon(s) x {LINES_PER_DAEMON} lines: {figures}")
    finally:
        server.stop()
    results["load_average_after"] = round(os.getloadavg()[0], 1)
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--leads", type=int, default=3000, help="due leads for the claims/s run")
    parser.add_argument(
        "--pbx-lines", type=int, default=None, help="claims for one PBX with this many lines"
    )
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.runs, args.daemons, args.leads, args.pbx_lines))
