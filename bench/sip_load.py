"""Real SIP load: customers on a PJSIP trunk with RTP, SIPp answering, `dialerd run` dialing.

For each level N (default 25, 50, 100, 200, 400) a SIPp customer farm (tests/support/sipp.py)
and a fresh sandbox Asterisk whose endpoint ``trunk`` leads to it are started, and the daemon
runs as its own process (`dialerd run`, channel template ``PJSIP/{number}@trunk``,
customer_first, max_concurrent_calls = N + the probes). Each level runs two rounds of N
calls: N leads are committed at once and the daemon is poked; every customer answers (200
OK) and sends G.711 RTP, and an operator ([bench-operator], a dialplan that answers at once)
talks ``--talk`` seconds, then hangs up. The first round times the probes; the second, with
nothing else going on, is the one measured.

Per level:

- **calls held**: the customer channels (``PJSIP/trunk-…``) Up in Asterisk's own channel list
  (CoreShowChannels, two samples 0.25 s apart agreeing) once the daemon has recorded every
  answer of the measured round; *held* = all N up together and every one answered;
- **attempts/s**: N over the time between the first and the last Originate (``originated_at``);
- **setup time**: Originate written → the daemon learns of the answer (``answered_at``),
  p50/p99 -- through Asterisk, the SIP INVITE/200/ACK and back as AMI events;
- **lead→Originate under load** (first round): once its N calls are up, ``--probes`` more
  leads (numbers SIPp answers 404, so a probe frees its line at once) are committed one at a
  time, 100 ms apart, by another store connection (as `dialerd leads add` does); each one's
  commit → its Originate on the AMI socket (the daemon's ``originated_at``): p50/p99/max;
  and the daemon's CPU per probe over that window (less its idle CPU when ``--idle`` was
  measured): what an attempt costs when it is dialed alone, as at a low call rate;
- **CPU** (measured round): utime + stime of the daemon, of Asterisk and of SIPp from /proc
  between the poke and the last call's end, per call; the daemon's share of Asterisk's; with
  the box's load average before and after the level (figures are only comparable at a like
  load). The probes are not in it: 404s cost Asterisk almost nothing and the daemon a whole
  attempt each, and at 25 calls they would be most of the attempts;
- **daemon RSS**: VmRSS at the end and VmHWM (peak) from /proc;
- **idle CPU** (``--idle S``): the daemon's CPU per second over S seconds logged in with no
  lead, before the level's leads: what it spends whether or not it dials (timers, pings).
  The CPU per call above is the daemon's whole CPU over the measured round, idle part
  included, divided by its N attempts.

Asterisk's CPU per call grows with the talk time (it relays 50 RTP packets a second per
call); the daemon's does not. Then, once, the SQL statements of one attempt from its claim to
its final write: an in-process engine on a small level with sqlite3's trace callback, one
attempt at a time (``--statements``). ``--profile`` samples the daemon with py-spy during each
level and prints the top five functions by own time. Writes bench/results/sip_load.json.

    PYTHONPATH=tests python bench/sip_load.py [--levels 25 50 100 200 400] [--talk 20]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's dialerd and tests/support

import yaml  # noqa: E402
from support.asterisk import AsteriskInstance, ensure_chroot, start_asterisk  # noqa: E402
from support.observer import AmiObserver  # noqa: E402
from support.operators import sandbox_dialplan  # noqa: E402
from support.scenarios import pbx_config, running_engine  # noqa: E402
from support.sipp import (  # noqa: E402
    ANSWERS_AND_STAYS,
    ANSWERS_AND_TALKS,
    UNALLOCATED,
    SippCustomers,
)

from dialerd.daemon.wake import poke  # noqa: E402
from dialerd.pbx.actions import event_filters  # noqa: E402
from dialerd.pbx.parse import LISTENED  # noqa: E402
from dialerd.policy.phones import Phone  # noqa: E402
from dialerd.store import leads as store  # noqa: E402
from dialerd.store.db import open_store  # noqa: E402
from dialerd.store.due import NEXT_DUE  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "sip_load.json"
TICK = os.sysconf("SC_CLK_TCK")
TRUNK = "PJSIP/{number}@trunk"


def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_split_s(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process in seconds: Python's work, and the kernel's on its behalf
    (sockets, fsync, the wake-ups between the event loop and the store's thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def memory_kib(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def phone(n: int, digit: str) -> Phone:
    """A customer number whose 4th digit from the end tells SIPp what to do."""
    return Phone(f"+7916{n // 1000:03d}{digit}{n % 1000:03d}")


def is_trunk_call_up(frame: dict[str, str]) -> bool:
    return frame.get("Channel", "").startswith("PJSIP/trunk-") and frame.get(
        "ChannelStateDesc"
    ) == ("Up")


def operator_dialplan(talk_s: int) -> dict[str, str]:
    """The sandbox dialplan plus ``[bench-operator]``: an operator who answers at once and
    talks back for ``talk_s`` s (Echo: the customer's RTP returns to them), so media flows
    both ways through Asterisk as in a conversation."""
    extra = sandbox_dialplan(talk_s)
    extra["extensions_sandbox.conf"] += (
        "\n[bench-operator]\n"
        "exten => 101,1,Answer()\n"
        f" same => n,Set(TIMEOUT(absolute)={talk_s})\n"
        " same => n,Echo()\n"
        " same => n,Hangup(16)\n"
        "exten => T,1,Hangup(16)\n"
    )
    return extra


def rtp_flowing(pbx: AsteriskInstance) -> dict[str, int]:
    """From ``pjsip show channelstats``: trunk channels with RTP received and sent."""
    received = sent = listed = 0
    for line in pbx.cli("pjsip show channelstats", timeout=30).splitlines():
        words = line.split()
        if len(words) >= 9 and any(w.startswith("trunk-") for w in words):
            at = next(i for i, w in enumerate(words) if w.startswith("trunk-"))
            listed += 1
            received += int(words[at + 3]) > 0
            sent += int(words[at + 7]) > 0
    return {"trunk_channels": listed, "receiving_rtp": received, "sending_rtp": sent}


def daemon_config(workdir: Path, pbx: AsteriskInstance, lines: int) -> Path:
    config = {
        "store": {"path": str(workdir / "bench.sqlite3")},
        "ami": {"host": pbx.host, "port": pbx.port, "username": pbx.username},
        "dialing": {
            "channel_template": TRUNK,
            "context": "bench-operator",
            "exten": "101",  # a simulated operator answers the customer and talks back
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
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, DIALERD_AMI__SECRET=secret, PYTHONPATH=path)
    with (workdir / "daemon.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def start_profiler(pid: int, workdir: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy not found: no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [spy, "record", "-p", str(pid), "-f", "raw", "-r", "1000", "--nonblocking", "--gil",
         "-o", str(workdir / "profile.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def top_costs(raw: Path, count: int = 5) -> list[dict[str, Any]]:
    """The functions with the most own-time samples in a py-spy raw (collapsed) profile."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        total += n
        own[stack.split(";")[-1]] += n
    return [
        {"function": name, "own_share": round(n / max(1, total), 3)}
        for name, n in own.most_common(count)
    ]


def attempt_rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(
            "SELECT a.lead_id, a.status, a.outcome, a.created_at, a.originated_at,"
            " a.answered_at FROM attempts a ORDER BY a.id"
        ).fetchall()


async def idle_cpu(pid: int, seconds: float) -> float | None:
    """CPU seconds per second of a process over ``seconds`` (None: not measured)."""
    if seconds <= 0:
        return None
    before = cpu_s(pid)
    await asyncio.sleep(seconds)
    return (cpu_s(pid) - before) / seconds


async def wait_for(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def watch(
    sessions: contextlib.AsyncExitStack, pbx: AsteriskInstance, count_events: bool
) -> tuple[AmiObserver, AmiObserver | None]:
    """The observer, and with ``count_events`` the daemon's view.

    Without it the observer only lists channels (``Events: off``): Asterisk then writes
    events to the daemon alone, and its CPU per call is what a production PBX spends. With
    it the observer gets every event (its own unfiltered AMI user) and a second session logs
    in as the daemon's user with the daemon's filter: what the daemon receives. Both cost
    Asterisk some CPU, so their levels' CPU figures are not the production ones.
    """
    observer = await sessions.enter_async_context(AmiObserver.of(pbx, receive_events=count_events))
    if not count_events:
        return observer, None
    daemons_view = await sessions.enter_async_context(
        AmiObserver(pbx.host, pbx.port, pbx.username, pbx.secret)
    )
    for action in event_filters(LISTENED):  # as the daemon's login does
        await daemons_view.action(action)
    return observer, daemons_view


def forget_events(*sessions: AmiObserver | None) -> None:
    """Charge the run only: drop what the sessions saw before it."""
    for session in sessions:
        if session is not None:
            session.events.clear()


def event_counts(
    observer: AmiObserver, daemons_view: AmiObserver | None
) -> dict[str, collections.Counter[str]]:
    """Events by name: all Asterisk made, and what reached the daemon's user and filter."""
    if daemons_view is None:
        return {}
    return {
        "asterisk_produced": collections.Counter(seen.name for seen in observer.events),
        "daemon_received": collections.Counter(seen.name for seen in daemons_view.events),
    }


def per_call(counts: collections.Counter[str], attempts: int) -> dict[str, float]:
    """Events by name per attempt, most frequent first."""
    return {name: round(n / max(1, attempts), 2) for name, n in counts.most_common()}


async def up_now(observer: AmiObserver) -> int:
    """Customer channels Up in Asterisk's own list: the fewer of two samples 0.25 s apart
    (a call's legs do not all vanish at the same instant; a held call lasts seconds)."""
    first = sum(1 for c in await observer.channels() if is_trunk_call_up(c))
    await asyncio.sleep(0.25)
    return min(first, sum(1 for c in await observer.channels() if is_trunk_call_up(c)))


async def commit_calls(intake: Any, calls: int, first: int) -> list[int]:
    """N leads committed at once (digit 5: the customer answers, sends RTP and stays)."""
    now = time.time()
    return [
        await store.insert_lead(intake, store.NewLead(phone=phone(n, ANSWERS_AND_STAYS)), now)
        for n in range(first, first + calls)
    ]


def answered_by(db: Path, lead_ids: list[int]) -> float | None:
    """When the last of these leads' calls was answered (None: not all answered yet)."""
    wanted = set(lead_ids)
    times = [
        r["answered_at"]
        for r in attempt_rows(db)
        if r["lead_id"] in wanted and r["answered_at"] is not None
    ]
    return max(times) if len(times) >= len(wanted) else None


def all_done(db: Path, lead_ids: list[int]) -> bool:
    """Has every one of these leads an attempt, and is every attempt of theirs done?"""
    wanted = set(lead_ids)
    rows = [r for r in attempt_rows(db) if r["lead_id"] in wanted]
    return len(rows) >= len(wanted) and all(r["status"] == "done" for r in rows)


async def run_level(
    calls: int,
    talk_s: int,
    probes: int,
    workdir: Path,
    profile: bool,
    count_events: bool,
    idle_s: float = 0.0,
) -> dict[str, Any]:
    """One level, in two rounds of N calls on the same daemon and Asterisk.

    First round: the N calls come up, then the probes are timed while they talk. Second
    round, the measured one: N calls and nothing else, from the poke to the last call's
    end, with Asterisk's channel list read only to count the calls held (a poll every
    quarter of a second would charge Asterisk for the bench's own AMI session). The probes
    are 404s, which cost Asterisk almost nothing and the daemon a whole attempt each, dialed
    alone: mixed into the level they would be most of the attempts at 25 calls. Their own
    CPU is given apart, as the cost of an attempt dialed alone.
    """
    customers = SippCustomers(talk_s=3600, media_s=talk_s + 5, max_calls=calls + probes + 50)
    customers.start()
    pbx = None
    daemon = None
    spy = None
    try:
        pbx = start_asterisk(
            extra_config={**customers.asterisk_config(), **operator_dialplan(talk_s)}
        )
        daemon = start_daemon(daemon_config(workdir, pbx, calls + probes), pbx.secret, workdir)
        db = workdir / "bench.sqlite3"
        wake = workdir / "bench.sqlite3.wake"
        async with contextlib.AsyncExitStack() as sessions:
            observer, daemons_view = await watch(sessions, pbx, count_events)
            deadline = time.monotonic() + 20
            while "ami_connected" not in (workdir / "daemon.log").read_text():
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError("the daemon did not connect to Asterisk")
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # past start-up: charge the run only
            idle = await idle_cpu(daemon.pid, idle_s)
            async with open_store(db) as intake:  # what `dialerd leads import` would do
                # round one: lead→Originate while N calls talk
                first = await commit_calls(intake, calls, 0)
                poke(wake)
                await wait_for(
                    lambda: answered_by(db, first) is not None, talk_s + 60, "the calls to answer"
                )
                in_flight_at_probes = await up_now(observer)
                committed: dict[int, float] = {}
                probes_from = cpu_s(daemon.pid), time.monotonic()
                for n in range(probes):  # digit 9: 404, the probe's line frees at once
                    lead_id = await store.insert_lead(
                        intake, store.NewLead(phone=phone(n, UNALLOCATED)), time.time()
                    )
                    committed[lead_id] = time.time()
                    poke(wake)
                    await asyncio.sleep(0.1)
                await wait_for(partial(all_done, db, list(committed)), 60, "the probes to end")
                probes_cpu = cpu_s(daemon.pid) - probes_from[0]
                probes_wall = time.monotonic() - probes_from[1]
                await wait_for(partial(all_done, db, first), talk_s * 4 + 180, "round one's end")
                await asyncio.sleep(1)  # its last follow-ups: not the measured round's

                # round two, measured: N calls and nothing else
                second = await commit_calls(intake, calls, calls)
                split_before = cpu_split_s(daemon.pid)
                before = {
                    "daemon": cpu_s(daemon.pid),
                    "asterisk": cpu_s(pbx.pid or 0),
                    "sipp": cpu_s(customers.pid or 0),
                }
                if profile:
                    spy = start_profiler(daemon.pid, workdir)
                forget_events(observer, daemons_view)
                started = time.monotonic()
                poked_at = time.time()
                poke(wake)
                await wait_for(
                    lambda: answered_by(db, second) is not None,
                    talk_s + 60,
                    "the calls to answer",
                )
                last_answer = answered_by(db, second)
                peak = await up_now(observer)
                media = await asyncio.to_thread(rtp_flowing, pbx)
            await wait_for(partial(all_done, db, second), talk_s * 4 + 180, "every call to end")
            wall = time.monotonic() - started
            used = {
                "daemon": cpu_s(daemon.pid) - before["daemon"],
                "asterisk": cpu_s(pbx.pid or 0) - before["asterisk"],
                "sipp": cpu_s(customers.pid or 0) - before["sipp"],
            }
            split = [b - a for a, b in zip(split_before, cpu_split_s(daemon.pid), strict=True)]
            memory = memory_kib(daemon.pid)
            events = event_counts(observer, daemons_view)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its profile on Ctrl-C
            spy.wait(60)
        rows = attempt_rows(db)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(30)
        if pbx is not None:
            pbx.stop()
        customers.cleanup()
    measured = set(second)
    load = [r for r in rows if r["lead_id"] in measured]
    outcomes = collections.Counter(r["outcome"] for r in load)
    sent = [r["originated_at"] for r in load if r["originated_at"] is not None]
    setup = [
        r["answered_at"] - r["originated_at"]
        for r in load
        if r["answered_at"] is not None and r["originated_at"] is not None
    ]
    probe_latency = [
        r["originated_at"] - committed[r["lead_id"]]
        for r in rows
        if r["lead_id"] in committed and r["originated_at"] is not None
    ]
    attempts = len(load)
    ramp_s = max(sent) - min(sent) if len(sent) > 1 else None
    raw = workdir / "profile.txt"
    profile_top = top_costs(raw) if spy is not None and raw.exists() else None
    # the probes' window also holds the idle daemon's timers: taken out when measured
    probe_cpu = probes_cpu - (idle or 0.0) * probes_wall
    return {
        "calls": calls,
        "peak_up_at_once": peak,
        "answered": outcomes.get("answered", 0),
        "outcomes": dict(outcomes),
        "held": peak >= calls and outcomes.get("answered", 0) == calls,
        "media_at_peak": media,
        "seconds_to_all_up": None if last_answer is None else round(last_answer - poked_at, 2),
        "attempts_per_s": round(len(sent) / ramp_s, 1) if ramp_s else None,
        "setup_p50_ms": ms(percentile(setup, 0.5)),
        "setup_p99_ms": ms(percentile(setup, 0.99)),
        "probes": len(probe_latency),
        "calls_up_during_probes": in_flight_at_probes,
        "lead_to_originate_p50_ms": ms(percentile(probe_latency, 0.5)),
        "lead_to_originate_p99_ms": ms(percentile(probe_latency, 0.99)),
        "lead_to_originate_max_ms": ms(max(probe_latency, default=None)),
        "daemon_cpu_ms_per_probe": round(probe_cpu * 1000 / max(1, len(committed)), 2),
        "wall_s": round(wall, 2),
        "daemon_cpu_s": round(used["daemon"], 3),
        "daemon_cpu_ms_per_call": round(used["daemon"] * 1000 / attempts, 2),
        "daemon_user_ms_per_call": round(split[0] * 1000 / attempts, 2),
        "daemon_system_ms_per_call": round(split[1] * 1000 / attempts, 2),
        "asterisk_cpu_s": round(used["asterisk"], 3),
        "asterisk_cpu_ms_per_call": round(used["asterisk"] * 1000 / attempts, 2),
        "sipp_cpu_s": round(used["sipp"], 3),
        "daemon_share_of_asterisk": round(used["daemon"] / max(used["asterisk"], 1e-9), 3),
        "daemon_idle_cpu_ms_per_s": None if idle is None else round(idle * 1000, 2),
        "daemon_rss_mib": round(memory.get("VmRSS", 0) / 1024, 1),
        "daemon_peak_rss_mib": round(memory.get("VmHWM", 0) / 1024, 1),
        "profile_top": profile_top,
        "observer_events": count_events,
        "events_per_call": {who: per_call(n, attempts) for who, n in events.items()} or None,
    }


async def count_statements(attempts: int, workdir: Path) -> dict[str, Any]:
    """SQL statements of one attempt, claim to final write: an in-process engine over a SIP
    trunk, one attempt at a time, sqlite3's trace callback on the engine's connection."""
    with SippCustomers(talk_s=1) as customers:
        pbx = start_asterisk(extra_config={**customers.asterisk_config(), **sandbox_dialplan(1)})
        try:
            loaded = pbx_config(
                workdir / "statements.sqlite3",
                pbx.host,
                pbx.port,
                pbx.secret,
                channel_template=TRUNK,
                safety_recheck_s=600,
            )
            per_attempt: list[list[str]] = []
            async with running_engine(loaded) as (engine, db, ami):
                await asyncio.wait_for(ami.connected.wait(), 15)
                seen: list[str] = []
                await db.conn.set_trace_callback(seen.append)
                async with open_store(loaded.settings.store.path) as intake:
                    for n in range(attempts):  # digit 1: answers, talks 1 s, hangs up
                        await asyncio.sleep(0.3)  # the last attempt's follow-ups: not ours
                        seen.clear()
                        lead_id = await store.insert_lead(
                            intake, store.NewLead(phone=phone(n, ANSWERS_AND_TALKS)), time.time()
                        )
                        engine.wake()
                        await wait_for(
                            partial(all_done, loaded.settings.store.path, [lead_id]),
                            30,
                            "the attempt to finish",
                        )
                        per_attempt.append(
                            _attempt_statements(list(seen), loaded.settings.store.path, lead_id)
                        )
                await db.conn.set_trace_callback(None)
        finally:
            pbx.stop()
    last = per_attempt[-1]
    return {
        "attempts": attempts,
        "statements_per_attempt": [a["statements"] for a in per_attempt],
        "transactions_per_attempt": [a["transactions"] for a in per_attempt],
        "trigger_runs_per_attempt": [a["trigger_runs"] for a in per_attempt],
        "loop_statements_per_attempt": [a["loop_statements"] for a in per_attempt],
        "max": max(a["statements"] for a in per_attempt),
        "one_attempt": last["listing"],
    }


def _attempt_statements(traced: list[str], db: Path, lead_id: int) -> dict[str, Any]:
    """The statements of one attempt's transactions, from sqlite3's trace of the window.

    The trace gives each statement as run, with its values; a trigger's statements come as
    repeats of the statement that fired them (counted as trigger runs, not statements).
    Statements that name the attempt or its lead are the attempt's, and so is the pick in
    the transaction that claimed it; the others in the window are the dial loop looking for
    the next lead (counted apart, the next due time read in the claim's own transaction
    too).
    BEGIN and COMMIT are counted as transactions, not statements.
    """
    with sqlite3.connect(db) as conn:
        attempt_id, call_id = conn.execute(
            "SELECT id, call_id FROM attempts WHERE lead_id = ?", (lead_id,)
        ).fetchone()
    ours = re.compile(
        rf"(\battempts\b.*\bWHERE id = {attempt_id}\b|'{re.escape(call_id)}'"
        rf"|\bleads\b.*\bWHERE id = {lead_id}\b)"
    )
    groups: list[list[str]] = []
    current: list[str] | None = None
    for sql in traced:
        text = " ".join(sql.split())
        if text.startswith("BEGIN"):
            current = [text]
        elif current is not None:
            current.append(text)
            if text.startswith(("COMMIT", "ROLLBACK")):
                groups.append(current)
                current = None
        else:
            groups.append([text])
    found = {"statements": 0, "transactions": 0, "trigger_runs": 0, "loop_statements": 0}
    listing: list[str] = []
    for group in groups:
        body = [s for s in group if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
        distinct = [s for n, s in enumerate(body) if n == 0 or s != body[n - 1]]
        claimed_here = any(s.startswith("INSERT INTO attempts") and ours.search(s) for s in body)
        mine = [
            s
            for s in distinct
            if ours.search(s)
            # the claim's pick; the next due time read after it is the dial loop's own look
            or (claimed_here and s.startswith("SELECT") and not s.startswith(NEXT_DUE))
        ]
        found["loop_statements"] += len(distinct) - len(mine)
        if not mine:
            continue
        found["statements"] += len(mine)
        found["transactions"] += 1
        found["trigger_runs"] += sum(body.count(s) - 1 for s in set(mine))
        listing += [s[:90] for s in mine]
    return {**found, "listing": listing}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    parser.add_argument("--talk", type=int, default=20, help="seconds each call stays up")
    parser.add_argument("--probes", type=int, default=30, help="leads timed under load")
    parser.add_argument("--statements", type=int, default=5, help="attempts traced for SQL")
    parser.add_argument("--profile", action="store_true", help="py-spy the daemon per level")
    parser.add_argument("--keep", type=Path, help="keep each level's files (logs) here")
    parser.add_argument(
        "--idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first measure the daemon's CPU while logged in with no lead, for this long",
    )
    parser.add_argument(
        "--count-events",
        action="store_true",
        help="count AMI events per call by name: all Asterisk makes, and what reaches the"
        " daemon (the observer then gets every event and one more session logs in:"
        " Asterisk's CPU figures include both)",
    )
    args = parser.parse_args()
    ensure_chroot()
    levels = []
    for calls in args.levels:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if args.keep is not None:
                workdir = args.keep / f"level-{calls}"
                workdir.mkdir(parents=True, exist_ok=True)
            load_before = os.getloadavg()[0]
            result = asyncio.run(
                run_level(
                    calls,
                    args.talk,
                    args.probes,
                    workdir,
                    args.profile,
                    args.count_events,
                    args.idle,
                )
            )
        # the box's 1-minute load average around the level: CPU per call is only comparable
        # between runs at a like load (a busy box batches events and spends less per call)
        result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        levels.append(result)
        print(
            f"{calls:>4} calls: {result['peak_up_at_once']:>4} up at once"
            f" ({'held' if result['held'] else 'NOT held'}), answered {result['answered']},"
            f" {result['attempts_per_s']} attempts/s, setup p50/p99"
            f" {result['setup_p50_ms']}/{result['setup_p99_ms']} ms,"
            f" lead→Originate p99 {result['lead_to_originate_p99_ms']} ms"
            f" ({result['calls_up_during_probes']} up), daemon"
            f" {result['daemon_cpu_ms_per_probe']} ms per probe dialed alone"
            f" | daemon {result['daemon_cpu_ms_per_call']} ms/call"
            f" (user {result['daemon_user_ms_per_call']}, system"
            f" {result['daemon_system_ms_per_call']}),"
            f" Asterisk {result['asterisk_cpu_ms_per_call']} ms/call"
            f" (daemon = {result['daemon_share_of_asterisk']:.1%} of Asterisk),"
            f" SIPp {result['sipp_cpu_s']:.1f} s, daemon RSS {result['daemon_rss_mib']} MiB"
            f" (peak {result['daemon_peak_rss_mib']}), idle"
            f" {result['daemon_idle_cpu_ms_per_s']} ms/s; load average"
            f" {result['load_average'][0]:g}→{result['load_average'][1]:g}",
            flush=True,
        )
        for cost in result["profile_top"] or []:
            print(f"       {cost['own_share']:6.1%}  {cost['function']}")
        for who, counts in (result["events_per_call"] or {}).items():
            listed = ", ".join(f"{name} {n:g}" for name, n in counts.items())
            print(f"       AMI events per call, {who}: {sum(counts.values()):.1f} ({listed})")
    with tempfile.TemporaryDirectory() as tmp:
        statements = asyncio.run(count_statements(args.statements, Path(tmp)))
    print(
        f"SQL statements per attempt, claim to final write: {statements['statements_per_attempt']}"
        f" in {statements['transactions_per_attempt']} transactions (BEGIN/COMMIT not counted),"
        f" trigger runs {statements['trigger_runs_per_attempt']}; the dial loop's own look for"
        f" the next lead: {statements['loop_statements_per_attempt']}. One attempt:"
    )
    for sql in statements["one_attempt"]:
        print(f"    {sql}")
    held = [level["calls"] for level in levels if level["held"]]
    figures = {
        "benchmark": "sip_load",
        "talk_s": args.talk,
        "levels": levels,
        "most_held": max(held, default=0),
        "statements": statements,
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
