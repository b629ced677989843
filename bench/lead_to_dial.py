"""Lead committed to the store → its Originate written to the AMI socket, on real Asterisk.

The path measured is production's: the lead is committed by a second store
connection (as `dialerd leads add` or the API would), the daemon is poked through
its wake socket, the engine claims the lead, commits the attempt and writes the
Originate. The line is idle for every lead (each call ends before the next lead).
Target: p99 under 50 ms. Prints the figures and writes bench/results/lead_to_dial.json.

    python bench/lead_to_dial.py [--leads 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from support.asterisk import ensure_chroot, start_asterisk
from support.scenarios import pbx_config, running_engine, wait_until_settled

from dialerd.daemon.logs import configure_logging
from dialerd.daemon.wake import poke
from dialerd.dialer.events import AttemptStarted, EngineEvent
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import open_store

RESULTS = Path(__file__).parent / "results" / "lead_to_dial.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(host: str, port: int, secret: str, leads: int, workdir: Path) -> list[float]:
    loaded = pbx_config(workdir / "bench.sqlite3", host, port, secret, safety_recheck_s=600)
    sent: dict[int, float] = {}

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, AttemptStarted):
            sent[event.claim.lead_id] = event.sent_at

    latencies = []
    async with running_engine(loaded, listeners=[on_event]) as (_engine, db, pbx):
        await pbx.connected.wait()
        async with open_store(loaded.settings.store.path) as intake:  # the "other process"
            for n in range(leads):
                phone = Phone(
                    f"+7916{n % 1000:03d}9{n % 1000:03d}"
                )  # unallocated: the line frees at once
                committed_at = time.time()
                lead_id = await store.insert_lead(intake, store.NewLead(phone=phone), committed_at)
                poke(loaded.settings.store.wake_socket_path)
                await wait_until_settled(db, [lead_id])
                latencies.append((sent[lead_id] - committed_at) * 1000)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200)
    args = parser.parse_args()
    configure_logging("warning", "console")
    ensure_chroot()
    instance = start_asterisk()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            latencies = asyncio.run(
                measure(instance.host, instance.port, instance.secret, args.leads, Path(tmp))
            )
    finally:
        instance.stop()
    figures = {
        "benchmark": "lead_to_dial",
        "leads": len(latencies),
        "median_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "max_ms": round(max(latencies), 3),
        "target_p99_ms": 50,
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(
        f"lead → Originate over {figures['leads']} leads (real Asterisk, idle line): "
        f"median {figures['median_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms "
        f"(target p99 < 50 ms)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["p99_ms"] < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
