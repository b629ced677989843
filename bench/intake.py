"""Leads accepted per second through the HTTP API: single POSTs and batches of 1,000.

The daemon runs as production runs it: `dialerd run` (one process) with its store
on disk in WAL mode with ``synchronous=FULL`` (every answer only after its fsync),
the duplicate rules on (every lead carries an order id, checked against the store),
AMI connected to the simulator and the engine dialing (calls ring until the timeout,
so the dialer stays busy but idle). The client is a minimal HTTP/1.1 keep-alive
client in this process, so the figures are the server's, not httpx's.

Targets: >= 1,000 leads/s single (16 concurrent connections), >= 10,000 leads/s batch.
Prints the figures and writes bench/results/intake.json.

    python bench/intake.py [--single 5000] [--connections 16] [--batches 20] [--batch-connections 2]
                           [--repeat 3] [--profile FILE]

The machine is shared in development: each run reports the daemon's CPU time per lead
(user + system, all its threads), which the load from other processes disturbs less than
the rate does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dialerd.pbx.sim.server import AmiSimulator

RESULTS = Path(__file__).parent / "results" / "intake.json"
TOKEN = "bench-token-0123456789abcdef"
SECRET = "bench-secret"


class Connection:
    """One keep-alive HTTP/1.1 connection; a request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def make_leads(count: int, rng: random.Random, prefix: str) -> list[dict[str, object]]:
    """Distinct customers; the 4th digit from the end is 3: the simulator lets them ring."""
    return [
        {
            "phone": f"+7916{rng.randrange(1000):03d}3{rng.randrange(1000):03d}",
            "order_id": f"{prefix}-{n}",
            "name": "Bench Customer",
            "amount": "1299.90",
            "items": [{"sku": "KB-1", "qty": 1}],
        }
        for n in range(count)
    ]


async def run_single(port: int, leads: list[dict[str, object]], connections: int) -> dict:
    bodies = [json.dumps(lead).encode() for lead in leads]
    conns = [await Connection.open(port) for _ in range(connections)]
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    queue = iter(bodies)

    async def worker(conn: Connection) -> None:
        for body in queue:
            t0 = time.perf_counter()
            status, _ = await conn.post("/api/v1/leads", body)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    latencies.sort() if latencies else latencies.append(0.0)
    return {
        "requests": len(bodies),
        "connections": connections,
        "seconds": round(elapsed, 3),
        "accepted": statuses.get(201, 0),
        "statuses": statuses,
        "leads_per_s": round(statuses.get(201, 0) / elapsed, 1),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


async def run_batches(
    port: int, leads: list[dict[str, object]], size: int, connections: int
) -> dict:
    bodies = [
        json.dumps({"leads": leads[i : i + size]}).encode() for i in range(0, len(leads), size)
    ]
    conns = [await Connection.open(port) for _ in range(connections)]
    accepted = 0
    other: dict[int, int] = {}
    queue = iter(bodies)

    async def worker(conn: Connection) -> None:
        nonlocal accepted
        for body in queue:
            status, answer = await conn.post("/api/v1/leads/batch", body)
            if status != 200:
                other[status] = other.get(status, 0) + 1
                continue
            accepted += json.loads(answer)["accepted"]

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    return {
        "batches": len(bodies),
        "batch_size": size,
        "connections": connections,
        "seconds": round(elapsed, 3),
        "accepted": accepted,
        "failed_requests": other,
        "leads_per_s": round(accepted / elapsed, 1),
    }


def cpu_s(pid: int) -> float:
    """CPU time (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(port: int, daemon: asyncio.subprocess.Process, log: Path) -> None:
    async with asyncio.timeout(30):
        while True:
            if daemon.returncode is not None:
                tail = await asyncio.to_thread(log.read_text)
                sys.exit(f"the daemon exited with {daemon.returncode}:\n{tail[-3000:]}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            if b" 200 " in line:
                return
            await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> dict:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="dialerd-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        port = free_port()
        store = work / "bench.sqlite3"
        config = work / "dialerd.yaml"
        log = work / "daemon.log"
        async with AmiSimulator(secret=SECRET, time_scale=1.0) as sim:
            config.write_text(
                f"store:\n  path: {store}\n"
                f"ami:\n  host: 127.0.0.1\n  port: {sim.port}\n"
                "dialing:\n  channel_template: 'Local/{number}@customers'\n"
                "  context: operators\n  exten: '101'\n  max_concurrent_calls: 10\n"
                "  originate_timeout_s: 5\n"
                "window:\n  open: '00:00'\n  close: '00:00'\n"
                f"api:\n  host: 127.0.0.1\n  port: {port}\n"
                "console:\n  enabled: false\n"
                "logging:\n  level: info\n  format: json\n"
            )
            env = dict(os.environ, DIALERD_AMI__SECRET=SECRET, DIALERD_API__TOKENS__BENCH=TOKEN)
            with log.open("wb") as out:  # noqa: ASYNC230 (once, before anything is measured)
                daemon = await asyncio.create_subprocess_exec(
                    *[sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            try:
                await wait_healthy(port, daemon, log)
                spy = None
                if args.profile:  # py-spy (pip install py-spy) samples the daemon meanwhile
                    spy = await asyncio.create_subprocess_exec(
                        *["py-spy", "record", "--format", "raw", "-o", str(args.profile)],
                        *["--pid", str(daemon.pid)],
                        stdout=subprocess.DEVNULL,
                    )
                    await asyncio.sleep(1)
                single_leads = make_leads(args.single, rng, "S")
                batch_leads = make_leads(args.batches * args.batch_size, rng, "B")
                cpu0 = cpu_s(daemon.pid)
                single = await run_single(port, single_leads, args.connections)
                cpu1 = cpu_s(daemon.pid)
                single["daemon_cpu_us_per_lead"] = round(
                    (cpu1 - cpu0) / max(1, single["accepted"]) * 1e6
                )
                batch = await run_batches(
                    port,
                    batch_leads,
                    args.batch_size,
                    args.batch_connections,
                )
                batch["daemon_cpu_us_per_lead"] = round(
                    (cpu_s(daemon.pid) - cpu1) / max(1, batch["accepted"]) * 1e6
                )
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    await spy.wait()
            finally:
                daemon.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(60):
                        await daemon.wait()
                except TimeoutError:
                    daemon.kill()
                    await daemon.wait()
        with sqlite3.connect(store) as db:
            stored = db.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
        db.close()
    expected = single["accepted"] + batch["accepted"]
    if stored != expected:
        sys.exit(f"the store holds {stored} leads, the API accepted {expected}")
    return {
        "single": single,
        "batch": batch,
        "stored_leads": stored,
        "durability": "synchronous=FULL, WAL; each answer after its commit",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average_at_end": os.getloadavg(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=5000, help="single POSTs (default 5000)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batches", type=int, default=20, help="batches (default 20)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="where the store goes")
    parser.add_argument("--profile", type=Path, help="sample the daemon with py-spy into this file")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs, each on a fresh daemon; the median is reported"
    )
    args = parser.parse_args()
    runs = []
    for n in range(args.repeat):
        run = asyncio.run(main(args))
        runs.append(run)
        single, batch = run["single"], run["batch"]
        print(
            f"run {n + 1}: single {single['leads_per_s']:,.0f} leads/s (p50 "
            f"{single['latency_ms_p50']} ms, p99 {single['latency_ms_p99']} ms, daemon CPU "
            f"{single['daemon_cpu_us_per_lead']} us/lead); batch {batch['leads_per_s']:,.0f} leads/s "
            f"(daemon CPU {batch['daemon_cpu_us_per_lead']} us/lead); load {run['load_average_at_end'][0]:.2f}"
        )
    single_rate = statistics.median(r["single"]["leads_per_s"] for r in runs)
    batch_rate = statistics.median(r["batch"]["leads_per_s"] for r in runs)
    print(
        f"single: {single_rate:,.0f} leads/s median of {len(runs)} ({args.connections} connections)"
        " — target 1,000/s"
    )
    print(
        f"batch:  {batch_rate:,.0f} leads/s median of {len(runs)} (batches of {args.batch_size},"
        f" {args.batch_connections} connections) — target 10,000/s"
    )
    results = {
        "single_leads_per_s_median": single_rate,
        "batch_leads_per_s_median": batch_rate,
        "targets": {"single_leads_per_s": 1000, "batch_leads_per_s": 10000},
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {RESULTS}")
