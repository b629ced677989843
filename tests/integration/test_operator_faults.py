"""Faults with operators on real Asterisk: Asterisk restarted mid-call, the daemon SIGKILLed
mid-call. Calls are reconciled, operator state is read again, dialing resumes, and Asterisk's
own log shows every customer dialed exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import (
    operators_config,
    operators_overrides,
    sandbox_dialplan,
)
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

LONG = ["+79161235001", "+79161235002"]  # answer and talk until the operator hangs up
SHORT = ["+79161231001", "+79161231002"]  # answer, talk 2 s


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(6))
    try:
        yield instance
    finally:
        instance.stop()


def alive(pid: int | None) -> bool:
    return pid is not None and Path(f"/proc/{pid}").exists()


def dialed(pbx: AsteriskInstance) -> Counter[str]:
    """Customers Asterisk dialed, from its own log (it survives the restart)."""
    text = pbx.log_path.read_text(errors="replace")
    return Counter(re.findall(r"NoOp\(\"[^\"]*\", \"customer (\d+): outcome", text))


@pytest.mark.parametrize("how", ["restart", "crash"])
async def test_asterisk_gone_mid_call_reconciles_and_dialing_resumes(tmp_path, pbx, how):
    loaded = operators_config(pbx, tmp_path / "d.sqlite3", mode="customer_first")
    async with running_engine(loaded) as (engine, db, ami):
        first = await add_leads(db, LONG)
        engine.wake()
        async with AmiObserver.of(pbx) as observer:
            await observer.wait_for(
                lambda: len(observer.named("AgentConnect")) == 2, 10, "two customers connected"
            )
        assert engine.in_flight == 2
        connects = ami.connects
        old_pid = pbx.pid
        if how == "crash":  # no Hangup events: the calls vanish while the daemon is blind
            os.kill(old_pid, signal.SIGKILL)
        back = asyncio.create_task(asyncio.to_thread(pbx.restart))  # same port and config
        async with asyncio.timeout(15):
            # gone for good: a stopping Asterisk may still take a login (and refuse calls)
            while ami.connected.is_set() or alive(old_pid):
                await asyncio.sleep(0.01)
        second = await add_leads(db, SHORT)  # arriving while Asterisk is away
        engine.wake()
        await back
        restarted = time.monotonic()
        async with asyncio.timeout(10):
            while ami.connects == connects or not engine.operators.synced:
                await asyncio.sleep(0.05)
        await wait_until_settled(db, first, timeout_s=10)
        await wait_until_settled(db, second, timeout_s=15)
        resumed = time.monotonic() - restarted
        attempts = {a["phone"]: a for a in await store.attempts_of(db)}
    for phone in LONG:  # answered before Asterisk went away: never redialed
        assert attempts[phone]["outcome"] == "answered"
        assert attempts[phone]["operator"] in {"101", "102", "103", "104", "105"}
        if how == "crash":
            assert "ended while unobserved" in attempts[phone]["note"]
        else:  # a clean stop hangs every call up (and says so) before AMI closes
            assert attempts[phone]["note"] is None
    for phone in SHORT:  # dialed after the reconnect, with the operators' state read again
        assert attempts[phone]["outcome"] == "answered" and attempts[phone]["operator"]
    assert resumed < 10
    assert dialed(pbx) == Counter({p[1:]: 1 for p in LONG + SHORT})
    # nothing was originated while Asterisk was away: the new leads waited for it to be back
    text = pbx.log_path.read_text(errors="replace")
    ready = text.rindex("Asterisk Ready.")
    assert all(text.index(f"customer {p[1:]}: outcome") > ready for p in SHORT)


def write_config(tmp_path: Path, pbx: AsteriskInstance) -> Path:
    overrides = operators_overrides(
        pbx, mode="agent_first", operators=("101", "102"), store_path=tmp_path / "d.sqlite3"
    )
    overrides["logging"] = {"format": "json"}
    path = tmp_path / "dialerd.yaml"
    path.write_text(yaml.safe_dump(overrides))
    return path


def cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialerd.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def start_daemon(config: Path, pbx: AsteriskInstance, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DIALERD_AMI__SECRET=pbx.secret)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def attempts(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM attempts ORDER BY id")]


async def eventually(predicate, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_daemon_killed_mid_call_adopts_calls_and_keeps_their_operators(tmp_path, pbx):
    config = write_config(tmp_path, pbx)
    db, log = tmp_path / "d.sqlite3", tmp_path / "daemon.log"
    assert cli("migrate", config=config).returncode == 0
    daemon = start_daemon(config, pbx, log)
    try:
        for phone in LONG:
            assert cli("leads", "add", phone, config=config).returncode == 0
        await eventually(
            lambda: sum(a["answered_at"] is not None for a in attempts(db)) == 2,
            10,
            "2 customers answering",
        )
        await asyncio.sleep(1.0)  # both operators answered, both customers talking
        shown = json.loads(cli("operators", "--format", "json", config=config).stdout)
        assert shown["daemon"]["running"] and shown["daemon"]["ami_connected"]
        assert {(op["name"], op["state"]) for op in shown["operators"]} == {
            ("101", "busy"),
            ("102", "busy"),
        }
        lead_ids = {op["current_call"]["lead_id"] for op in shown["operators"]}
        assert lead_ids == {a["lead_id"] for a in attempts(db)}
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)

        daemon = start_daemon(config, pbx, log)
        assert cli("leads", "add", SHORT[0], config=config).returncode == 0
        await asyncio.sleep(2.0)  # the new lead must wait until an operator is free
        # (on a loaded box the adopted calls may end within those 2 s: then it may go)
        ended = [a["ended_at"] for a in attempts(db)[:2] if a["ended_at"] is not None]
        for new in attempts(db)[2:]:
            assert ended and new["created_at"] >= min(ended), "dialed with both operators busy"
        await eventually(
            lambda: len(attempts(db)) == 3 and all(a["status"] == "done" for a in attempts(db)),
            20,
            "the adopted calls to end and the third lead to be called",
        )
    finally:
        daemon.terminate()
        daemon.wait(20)
    rows = {a["phone"]: a for a in attempts(db)}
    for phone in LONG:
        assert rows[phone]["mode"] == "agent_first" and rows[phone]["outcome"] == "answered"
        assert rows[phone]["operator"] in {"101", "102"}
    third = rows[SHORT[0]]
    assert third["outcome"] == "answered"
    assert third["created_at"] >= min(rows[p]["ended_at"] for p in LONG)  # a free operator first
    assert dialed(pbx) == Counter({p[1:]: 1 for p in [*LONG, SHORT[0]]})
    assert log.read_text().count("in_flight_adopted") == 2  # taken over while still live
    assert log.read_text().count("call_still_live") == 2
