"""The PostgreSQL store: pick and claim+commit time on stores of 1M and 10M leads, claims
per second with 1, 2 and 4 daemon processes on one pool of leads, and the takeover time
after a daemon is SIGKILLed with calls up.

The store is the harness's real PostgreSQL (``tests/support/postgres.py``: Debian's server
in a temporary directory, loopback only, fsync off as in the tests: the figures are the
engine's, not the disk's). The lead mix is ``pick_scaling.py``'s (a working centre's: new
leads, retries, callbacks, most closed), drawn by the server itself (``INSERT … SELECT``
over ``generate_series``, a million rows a statement: 10M leads never pass through Python);
the fill is timed, then VACUUMed and ANALYZEd as autovacuum would leave it. Pick: the
engine's query (``due_leads``) as the claim runs it (rows locked, inside its transaction),
and the same read without locks (``plan``, ``explain``) beside it; claim: ``claim_next`` with a lease, committed, then taken back.
Targets (issue): pick <= 1 ms, claim+commit <= 5 ms p99 on loopback.

Claims per second: each daemon is an OS process of its own (spawned), with its own pool,
claiming until the due leads run out as its dial loop does: one claim at a time for each
PBX it drives (``--lines N``: N PBXs, N claims at a time; 1 by default). Every process connects and
registers first, then all wait on one barrier: the time counted runs from the barrier to
the last line's end, claiming only. No lead may be claimed twice: ``leases.lead_id`` is
UNIQUE (migrations/postgresql/1001_daemons.sql), so a second live claim of a lead fails its
insert, and every lead's attempts are counted after (one each). The box's load average is
printed beside each count (a shared box: say how busy), with the cores the daemons and the
server kept busy (near the box's count, the box is the limit, not the store). Each count
runs ``--rounds`` times, the counts in turn, and its median is kept. ``--pbx-lines N``: every claim is
for one PBX with N lines, counted over every daemon's calls (``ami[].max_concurrent_calls``
on a shared store: claims for the PBX take turns); N must exceed the claims made.

Takeover (``--takeover N``, N runs): two real daemons (``dialerd run``, ``daemon.lease_s``
3) on one PostgreSQL database and the AMI simulator, leads whose calls last 10 s; once both
have calls up, one is SIGKILLed; the time is from the kill to the survivor's last
``call_taken_over`` of the killed daemon's calls (its JSON log). Every lead must be dialed
once. The bound is lease + lease/3 (the lease runs out, the survivor's heartbeat sees it).

Prints the figures and writes bench/results/pg_scaling.json.

    PYTHONPATH=tests python bench/pg_scaling.py [--sizes 1000000 10000000] [--runs 300]
        [--daemons 1 2 4] [--leads 3000] [--rounds 3] [--lines 1] [--takeover 5]
        [--pbx-lines N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from pick_scaling import NOW, pct  # noqa: E402
from support.daemon import Daemon, NotifyListener, answering, wait_for  # noqa: E402
from support.postgres import start_postgres  # noqa: E402

from dialerd.config import load_config  # noqa: E402
from dialerd.config.store import postgres_target  # noqa: E402
from dialerd.pbx.sim.server import AmiSimulator  # noqa: E402
from dialerd.policy.phones import Phone  # noqa: E402
from dialerd.policy.pick import Dial, judge  # noqa: E402
from dialerd.store import attempts, daemons, due, sql  # noqa: E402
from dialerd.store import leads as lead_store  # noqa: E402
from dialerd.store.pg import PgDatabase, open_pg_store  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "pg_scaling.json"
LINES_PER_DAEMON = 1  # a daemon's dial loop claims one lead at a time per PBX (--lines)
LEASE_S = 60.0
FILL_CHUNK = 1_000_000
TAKEOVER_LEASE_S = 3  # daemon.lease_s of the takeover runs (the least the config allows)
TAKEOVER_TALK_S = 10.0  # long enough for the calls to outlive lease + lease/3
TAKEOVER_LEADS = 10  # two daemons of 5 lines each: every lead dialed at once

# pick_scaling.fill's mix, drawn by the server: 5 % new, 10 % retries due, 20 % retries
# later, 3 % callbacks, the rest closed. $1..$2: the ids; $3: the bench's "now".
FILL = """
INSERT INTO leads (id, phone, received_at, state, rank, due_at, callback_at, attempts,
                   deadline_at, close_reason, updated_at)
SELECT n, '+7916' || lpad(n::text, greatest(7, length(n::text)), '0'), received,
       CASE WHEN kind < 0.38 THEN 'waiting' ELSE 'closed' END,
       CASE WHEN kind < 0.05 THEN 1 WHEN kind < 0.35 THEN (CASE WHEN r2 < 0.5 THEN 2 ELSE 4 END)
            WHEN kind < 0.38 THEN 3 ELSE 4 END,
       CASE WHEN kind < 0.05 THEN received WHEN kind < 0.15 THEN $3 - r1 * 7200
            WHEN kind < 0.35 THEN $3 + 60 + r1 * 7140
            WHEN kind < 0.38 THEN $3 - 3600 + r1 * (3 * 86400 + 3600) ELSE received END,
       CASE WHEN kind >= 0.35 AND kind < 0.38 THEN $3 - 3600 + r1 * (3 * 86400 + 3600) END,
       CASE WHEN kind < 0.05 THEN 0 WHEN kind < 0.35 THEN 1 + floor(r2 * 5)
            WHEN kind < 0.38 THEN 1 + floor(r2 * 3) ELSE 1 + floor(r2 * 7) END,
       CASE WHEN kind < 0.05 THEN received + 900 END,
       CASE WHEN kind >= 0.38 THEN (CASE WHEN r2 < 0.5 THEN 'reached' ELSE 'exhausted' END) END,
       received
FROM (SELECT n, random() AS kind, $3 - random() * 30 * 86400 AS received,
             random() AS r1, random() AS r2
      FROM generate_series($1::bigint, $2::bigint) AS n) AS drawn
"""


async def fill(db: PgDatabase, size: int) -> float:
    """``size`` leads of the mix, a million a statement, then ANALYZE: seconds taken."""
    started = time.perf_counter()
    async with db.pool.acquire() as conn:
        # the reports' rollup triggers are no part of the pick: off for the bulk load only
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SELECT setseed(0.7)")  # the same stores run after run
        for first in range(1, size + 1, FILL_CHUNK):
            await conn.execute(FILL, first, min(first + FILL_CHUNK - 1, size), NOW)
        await conn.execute("SET session_replication_role = DEFAULT")
        # as autovacuum leaves a store: without it, its first pass over the new rows (the
        # visibility map, hint bits) would run during the timed picks
        await conn.execute("VACUUM ANALYZE")
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


async def daemon_lines(
    url: str, password: str, daemon_id: str, pbx_lines: int | None, lines: int, barrier: Any
) -> tuple[int, float, float, float]:
    """One daemon: its pool and its lines (dial loops), connected and registered before the
    barrier. Returns its claims, when it started and ended claiming, and the CPU it spent
    meanwhile."""
    target = postgres_target(url)
    db = await PgDatabase.open(target, password, pool_size=lines)
    try:
        ranks = load_config(None).settings.policy.ranks
        await daemons.register(db, daemon_id, NOW)
        lease = attempts.Lease(daemon_id, LEASE_S)
        # every connection opened now, so that none is opened on the clock
        held = [await db.pool.acquire() for _ in range(lines)]
        for conn in held:
            await db.pool.release(conn)

        async def line() -> int:
            got = 0
            while await attempts.claim_next(
                db, NOW, ranks, lambda _lead: Dial(), lease=lease, pbx="bench",
                pbx_lines=pbx_lines,
            ):  # fmt: skip
                got += 1
            return got

        barrier.wait()  # nothing else runs in this process's loop yet: blocking is fine
        started, cpu = time.time(), time.process_time()
        counts = await asyncio.gather(*(line() for _ in range(lines)))
        return sum(counts), started, time.time(), time.process_time() - cpu
    finally:
        await db.close()


def daemon_process(
    url: str,
    password: str,
    daemon_id: str,
    pbx_lines: int | None,
    lines: int,
    barrier: Any,
    out: Any,
) -> None:
    """A spawned process's entry: one daemon's claims, sent back as (id, count, start, end, cpu)."""
    try:
        got = asyncio.run(daemon_lines(url, password, daemon_id, pbx_lines, lines, barrier))
        out.put((daemon_id, *got))
    except BaseException as exc:
        barrier.abort()  # the others must not wait for a daemon that never comes
        out.put((daemon_id, repr(exc)))
        raise


def server_cpu_s(server: Any) -> float:
    """The CPU PostgreSQL's ended backends spent (the postmaster reaps them: its children's
    times), to set beside the daemons' own: on one box they share the same cores."""
    pid = (server.directory / "data" / "postmaster.pid").read_text().split()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime + cstime


async def claims_per_second(
    server: Any, count: int, leads: int, pbx_lines: int | None, lines: int
) -> dict[str, float]:
    """``count`` daemon processes, ``lines`` dial loops each, claim ``leads`` due new leads
    until none is left."""
    name = server.new_database()
    url = server.url(name)
    try:
        async with open_pg_store(postgres_target(url), server.password) as setup:
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
            spawn = multiprocessing.get_context("spawn")
            barrier = spawn.Barrier(count)
            out = spawn.Queue()
            procs = [
                spawn.Process(
                    target=daemon_process,
                    args=(url, server.password, f"d{n}", pbx_lines, lines, barrier, out),
                )
                for n in range(count)
            ]
            server_cpu = server_cpu_s(server)
            for proc in procs:
                proc.start()
            done = [await asyncio.to_thread(out.get, True, 300) for _ in procs]
            for proc in procs:
                await asyncio.to_thread(proc.join, 30)
            await asyncio.sleep(0.5)  # the daemons' backends ended with their pools: reaped
            server_cpu = server_cpu_s(server) - server_cpu
            failed = [d for d in done if len(d) != 5]
            assert not failed, failed
            load = os.getloadavg()[0]
            elapsed = max(d[3] for d in done) - min(d[2] for d in done)
            claimed = sum(d[1] for d in done)
            twice = await sql.rows(
                setup.conn,
                "SELECT lead_id FROM attempts GROUP BY lead_id HAVING COUNT(*) > 1",
            )
            total = await sql.row(setup.conn, "SELECT COUNT(*) FROM attempts")
        assert total is not None and int(total[0]) == leads == claimed, (total, done)
        return {
            "daemons": count,
            "claims": claimed,
            "seconds": round(elapsed, 3),
            "claims_per_s": round(claimed / elapsed, 1),
            "per_daemon": sorted(d[1] for d in done),
            # the daemons' own CPU while claiming: near seconds x daemons, they were the limit
            "daemon_cpu_s": round(sum(d[4] for d in done), 2),
            "server_cpu_s": round(server_cpu, 2),  # its backends' whole lives, claims and all
            "double_claims": len(twice),
            # the box's cores kept busy by the claims (daemons and server): near the box's
            # count, the box itself is the limit, not the store
            "cores_busy": round((sum(d[4] for d in done) + server_cpu) / elapsed, 2),
            "load_average": round(load, 1),
        }
    finally:
        server.drop_database(name)


def logged_at(entry: dict[str, Any]) -> float:
    """A JSON log line's ISO timestamp as epoch seconds."""
    return datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()


async def takeover(server: Any, run: int, workdir: Path) -> dict[str, Any]:
    """Two ``dialerd run`` on one database; SIGKILL one with calls up; time the survivor's
    takeover of its calls, and check that no lead was dialed twice."""
    name = server.new_database()
    url = server.url(name)
    try:
        async with (
            open_pg_store(postgres_target(url), server.password) as db,
            AmiSimulator(secret="sim-secret", time_scale=1.0) as sim,
        ):
            sim.rule = answering(TAKEOVER_TALK_S)
            for n in range(TAKEOVER_LEADS):
                await lead_store.insert_lead(
                    db, lead_store.NewLead(phone=Phone(f"+{79161230000 + n}")), time.time()
                )
            pair = []
            for who in ("doomed", "heir"):
                where = workdir / f"run{run}-{who}"
                where.mkdir(parents=True)
                daemon = Daemon(
                    where, sim, NotifyListener(), store_url=url, store_password=server.password
                )
                daemon.write_config(
                    max_concurrent_calls=TAKEOVER_LEADS // 2,
                    extra=f"daemon:\n  id: {who}\n  lease_s: {TAKEOVER_LEASE_S}\n",
                )
                pair.append(daemon)
            doomed, heir = pair

            async def leases(of: str) -> int:
                found = await sql.row(
                    db.conn, "SELECT COUNT(*) FROM leases WHERE daemon_id = ?", (of,)
                )
                return int(found[0]) if found else 0

            try:
                await doomed.start()
                await heir.start()
                deadline = time.monotonic() + 30
                while not (
                    len(sim.active_channels) >= TAKEOVER_LEADS
                    and await leases("doomed") > 0
                    and await leases("heir") > 0
                ):
                    assert time.monotonic() < deadline, "both daemons' calls did not come up"
                    await asyncio.sleep(0.05)
                await doomed.kill()
                killed_at = time.time()
                orphans = await leases("doomed")
                await wait_for(
                    lambda: len(heir.events("call_taken_over")) >= orphans, 30, "the takeover"
                )
                taken = [e for e in heir.events("call_taken_over") if e["from_daemon"] == "doomed"]
                took_s = max(logged_at(e) for e in taken) - killed_at
                # the calls end; nothing may be dialed again meanwhile
                await asyncio.sleep(TAKEOVER_TALK_S)
            finally:
                for daemon in pair:
                    await daemon.kill()
                    daemon.notify.close()
            sent = Counter(o.headers["Channel"].split("/")[1].split("@")[0] for o in sim.originates)
    finally:
        server.drop_database(name)
    twice = sorted(number for number, times in sent.items() if times > 1)
    assert len(taken) == orphans, (taken, orphans)
    return {
        "calls_taken_over": orphans,
        "takeover_s": round(took_s, 2),
        "dialed_twice": len(twice),
    }


async def main(
    sizes: list[int],
    runs: int,
    daemon_counts: list[int],
    leads: int,
    pbx_lines: int | None,
    takeovers: int,
    lines: int = LINES_PER_DAEMON,
    rounds: int = 3,
) -> None:
    server = start_postgres()
    results: dict[str, Any] = {
        "benchmark": "pg_scaling",
        "sizes": {},
        "claims": [],
        "load_average_before": round(os.getloadavg()[0], 1),  # a shared box: say how busy
        "pbx_lines": pbx_lines,
        "lines_per_daemon": lines,
        "rounds": rounds,
    }
    try:
        for size in sizes:
            name = server.new_database()
            try:
                async with open_pg_store(postgres_target(server.url(name)), server.password) as db:
                    filled_s = await fill(db, size)
                    print(f"{size:>10,} leads filled in {filled_s:.1f} s", flush=True)
                    figures = await latencies(db, runs, pbx_lines)
                figures["fill_s"] = round(filled_s, 1)
                figures["load_average"] = round(os.getloadavg()[0], 1)
                results["sizes"][str(size)] = figures
                print(f"{size:>10,} leads: {figures}", flush=True)
            finally:
                server.drop_database(name)
        by_count: dict[int, list[dict[str, Any]]] = {count: [] for count in daemon_counts}
        for _ in range(rounds):  # the counts in turn, round after round: a shared box drifts
            for count in daemon_counts:
                figures = await claims_per_second(server, count, leads, pbx_lines, lines)
                by_count[count].append(figures)
                print(f"{count} daemon process(es) x {lines} line(s): {figures}", flush=True)
        for count, runs_done in by_count.items():
            rates = [r["claims_per_s"] for r in runs_done]
            middle = sorted(runs_done, key=lambda r: r["claims_per_s"])[len(runs_done) // 2]
            results["claims"].append(
                {**middle, "median_claims_per_s": statistics.median(rates), "rounds": rates}
            )
            print(
                f"{count} daemon process(es): median {statistics.median(rates)} claims/s of {rates}"
            )
        if takeovers:
            import tempfile

            runs_done = []
            with tempfile.TemporaryDirectory(prefix="pg-takeover-") as workdir:
                for run in range(takeovers):
                    figures = await takeover(server, run, Path(workdir))
                    runs_done.append(figures)
                    print(f"takeover {run + 1}: {figures}", flush=True)
            times = [r["takeover_s"] for r in runs_done]
            results["takeover"] = {
                "lease_s": TAKEOVER_LEASE_S,
                "bound_s": round(TAKEOVER_LEASE_S * 4 / 3, 2),
                "median_s": round(statistics.median(times), 2),
                "max_s": max(times),
                "dialed_twice": sum(r["dialed_twice"] for r in runs_done),
                "runs": runs_done,
            }
            print(f"takeover: {results['takeover']}")
    finally:
        server.stop()
    results["load_average_after"] = round(os.getloadavg()[0], 1)
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--leads", type=int, default=3000, help="due leads for the claims/s run")
    parser.add_argument(
        "--pbx-lines", type=int, default=None, help="claims for one PBX with this many lines"
    )
    parser.add_argument(
        "--takeover", type=int, default=5, help="takeover runs after a SIGKILL (0: none)"
    )
    parser.add_argument(
        "--lines", type=int, default=LINES_PER_DAEMON,
        help="claims at a time per daemon (its PBXs' dial loops)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=3, help="claims/s runs per daemon count (the median kept)"
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.sizes,
            args.runs,
            args.daemons,
            args.leads,
            args.pbx_lines,
            args.takeover,
            args.lines,
            args.rounds,
        )  # fmt: skip
    )
