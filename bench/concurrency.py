"""How many simultaneous calls the machine holds: `dialerd run` against real Asterisk, Local channels.

For each level N (default 50, 100, 200) a fresh sandbox Asterisk is started, the daemon
runs as its own process (`dialerd run`, max_concurrent_calls = N), N leads whose
customers answer are committed and the daemon is poked; every call is answered by a
simulated operator who talks ``--talk`` seconds. An independent AMI session polls
CoreShowChannels (Asterisk's own channel list) for the most customer calls up at once,
and counts the AMI events of the run: all Asterisk produced (an unfiltered session) and those
the daemon's session receives (a second session with the daemon's own AMI event filter).
CPU is read from /proc/<pid>/stat (utime + stime) of the daemon and of Asterisk at the
start and the end of the run, so both are charged for the same N calls.

A level is *held* when all N calls were up at the same time and every one was answered.
The machine is shared: figures vary from run to run; the levels' relative cost is the point.
Prints the figures and writes bench/results/concurrency.json.

    python bench/concurrency.py [--levels 50 100 200] [--talk 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from support.asterisk import AsteriskInstance, ensure_chroot, start_asterisk
from support.observer import AmiObserver
from support.operators import sandbox_dialplan

from dialerd.daemon.wake import poke
from dialerd.pbx import parse as queue_events
from dialerd.pbx.actions import event_filters
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import open_store

RESULTS = Path(__file__).parent / "results" / "concurrency.json"
LISTENED = ("Hangup", *queue_events.EVENT_NAMES)  # what dialerd.pbx.ami registers
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def daemon_config(workdir: Path, pbx: AsteriskInstance, lines: int) -> Path:
    config = {
        "store": {"path": str(workdir / "bench.sqlite3")},
        "ami": {"host": pbx.host, "port": pbx.port, "username": pbx.username},
        "dialing": {
            "channel_template": "Local/{number}@customers",
            "context": "operators",
            "exten": "101",  # a simulated operator answers the customer and talks
            "max_concurrent_calls": lines,
            "originate_timeout_s": 30,
        },
        "window": {"open": "00:00", "close": "00:00"},
        "api": {"enabled": False},
        "console": {"enabled": False},
        "logging": {"format": "json", "level": "info"},
    }
    path = workdir / "dialerd.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_daemon(config: Path, secret: str, workdir: Path) -> subprocess.Popen[bytes]:
    """`dialerd run` as its own process, so its CPU is its own."""
    env = dict(os.environ, DIALERD_AMI__SECRET=secret)
    with (workdir / "daemon.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def settled(db: Path, leads: int) -> bool:
    with sqlite3.connect(db) as conn:
        (done,) = conn.execute("SELECT COUNT(*) FROM attempts WHERE status = 'done'").fetchone()
    return done >= leads


async def run_level(calls: int, talk_s: int, workdir: Path) -> dict[str, Any]:
    pbx = start_asterisk(extra_config=sandbox_dialplan(talk_s))
    daemon = None
    try:
        daemon = start_daemon(daemon_config(workdir, pbx, calls), pbx.secret, workdir)
        db = workdir / "bench.sqlite3"
        async with AmiObserver.of(pbx) as observer, AmiObserver.of(pbx) as daemons_view:
            # the same whitelist the daemon's session asks for (ami.event_filter = true)
            for action in event_filters(LISTENED):
                await daemons_view.action(action)
            deadline = time.monotonic() + 20
            while "ami_connected" not in (workdir / "daemon.log").read_text():
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError("the daemon did not connect to Asterisk")
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # past start-up: charge the run only
            async with open_store(db) as intake:  # what `dialerd leads import` would do
                now = time.time()
                for n in range(calls):  # the 4th digit from the end (5): answers and stays
                    phone = Phone(f"+7916{n // 1000:03d}5{n % 1000:03d}")
                    await store.insert_lead(intake, store.NewLead(phone=phone), now)
            events_before = len(observer.events)
            received_before = len(daemons_view.events)
            daemon_before, asterisk_before = cpu_s(daemon.pid), cpu_s(pbx.pid or 0)
            started = time.monotonic()
            observer.watch_channels(every_s=0.25)
            poke(workdir / "bench.sqlite3.wake")
            peak_at = None
            while not settled(db, calls):
                if observer.peak >= calls and peak_at is None:
                    peak_at = time.monotonic() - started
                if time.monotonic() - started > talk_s * 4 + 120:
                    raise RuntimeError(f"level {calls}: calls did not finish in time")
                await asyncio.sleep(0.2)
            wall = time.monotonic() - started
            daemon_cpu = cpu_s(daemon.pid) - daemon_before
            asterisk_cpu = cpu_s(pbx.pid or 0) - asterisk_before
            events = len(observer.events) - events_before
            received = len(daemons_view.events) - received_before
            peak = observer.peak
        with sqlite3.connect(db) as conn:
            outcomes = dict(conn.execute("SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome"))
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(30)
        pbx.stop()
    answered = outcomes.get("answered", 0)
    return {
        "calls": calls,
        "peak_simultaneous": peak,
        "answered": answered,
        "outcomes": outcomes,
        "held": peak >= calls and answered == calls,
        "seconds_to_all_up": None if peak_at is None else round(peak_at, 2),
        "wall_s": round(wall, 2),
        "ami_events": events,
        "ami_events_to_daemon": received,
        "daemon_cpu_s": round(daemon_cpu, 3),
        "daemon_cpu_ms_per_call": round(daemon_cpu * 1000 / calls, 2),
        "daemon_cpu_ms_per_1000_events": round(daemon_cpu * 1e6 / max(1, events), 1),
        "daemon_cpu_ms_per_1000_events_received": round(daemon_cpu * 1e6 / max(1, received), 1),
        "asterisk_cpu_s": round(asterisk_cpu, 3),
        "asterisk_cpu_ms_per_call": round(asterisk_cpu * 1000 / calls, 2),
        "asterisk_cpu_ms_per_1000_events": round(asterisk_cpu * 1e6 / max(1, events), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--talk", type=int, default=8, help="seconds each call stays up")
    args = parser.parse_args()
    ensure_chroot()
    levels = []
    for calls in args.levels:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(run_level(calls, args.talk, Path(tmp)))
        levels.append(result)
        print(
            f"{calls:>4} calls: peak {result['peak_simultaneous']:>4} up at once"
            f" ({'held' if result['held'] else 'NOT held'}), answered {result['answered']},"
            f" {result['ami_events']} AMI events ({result['ami_events_to_daemon']} to the daemon)"
            f" | daemon {result['daemon_cpu_s']:.2f} s CPU"
            f" = {result['daemon_cpu_ms_per_call']} ms/call,"
            f" {result['daemon_cpu_ms_per_1000_events']} ms/1000 events"
            f" ({result['daemon_cpu_ms_per_1000_events_received']} per 1000 received) | Asterisk"
            f" {result['asterisk_cpu_s']:.2f} s = {result['asterisk_cpu_ms_per_call']} ms/call"
        )
    held = [level["calls"] for level in levels if level["held"]]
    figures = {
        "benchmark": "concurrency",
        "talk_s": args.talk,
        "levels": levels,
        "most_held": max(held, default=0),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"most simultaneous calls held: {figures['most_held']}; wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
