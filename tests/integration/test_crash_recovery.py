"""`dialerd run` against real Asterisk: SIGKILL mid-call, restart, nothing lost or dialed twice."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from panoramisk import Manager
from support.asterisk import OBSERVER_USER

pytestmark = pytest.mark.asterisk

LONG_CALLS = [f"+7916123{5000 + n}" for n in range(3)]  # answer; the operator hangs up after 20 s
RINGING = [f"+7916123{3000 + n}" for n in range(2)]  # ring until the Originate timeout


def write_config(tmp_path: Path, asterisk) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(
        f"""
store:
  path: {tmp_path / "dialerd.sqlite3"}
ami:
  host: {asterisk.host}
  port: {asterisk.port}
  username: {asterisk.username}
  reconnect_initial_s: 0.1
  reconnect_max_s: 1
dialing:
  max_concurrent_calls: 10
  channel_template: "Local/{{number}}@customers"
  context: operators
  exten: "101"
  originate_timeout_s: 8
window: {{open: "00:00", close: "00:00"}}  # round the clock: the test must not depend on the hour
campaigns:
  default:
    retry_delays: {{busy: 3600, no_answer: 3600, congestion: 3600, failed: 3600, unknown: 3600}}
api:
  enabled: false
console:
  enabled: false
logging:
  format: json
"""
    )
    return path


def dialerd(*args: str, config: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dialerd.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        **kwargs,
    )


def start_daemon(config: Path, asterisk, log: Path) -> subprocess.Popen:
    env = dict(os.environ, DIALERD_AMI__SECRET=asterisk.secret)
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


class Observer:
    """An independent AMI session counting the customer channels Asterisk really created
    (as the observers' AMI user: the dialer's gets no Newchannel)."""

    def __init__(self, asterisk):
        self.dialed: Counter[str] = Counter()
        self.manager = Manager(
            host=asterisk.host,
            port=asterisk.port,
            username=OBSERVER_USER,
            secret=asterisk.secret,
            ping_delay=3600,
        )
        self.manager.register_event("Newchannel", self._on_new)

    def _on_new(self, _manager, event):
        channel = event.get("Channel", "")
        if channel.startswith("Local/") and "@customers" in channel and channel.endswith(";1"):
            self.dialed[event.get("Exten", "")] += 1

    async def __aenter__(self):
        await self.manager.connect()
        for _ in range(100):
            if self.manager.authenticated:
                return self
            await asyncio.sleep(0.05)
        raise RuntimeError("observer could not log in")

    async def __aexit__(self, *exc):
        self.manager.close()


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def wait_for(predicate, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_sigkill_mid_call_loses_nothing_and_never_dials_twice(tmp_path, asterisk):
    config = write_config(tmp_path, asterisk)
    db = tmp_path / "dialerd.sqlite3"
    log = tmp_path / "daemon.log"
    assert dialerd("migrate", config=config).returncode == 0
    async with Observer(asterisk) as observer:
        daemon = start_daemon(config, asterisk, log)
        try:
            for phone in LONG_CALLS + RINGING:
                added = dialerd("leads", "add", phone, config=config)
                assert added.returncode == 0, added.stderr
            await wait_for(lambda: sum(observer.dialed.values()) == 5, 15, "5 calls at Asterisk")
            await asyncio.sleep(0.5)  # the long calls are answered, the others still ringing
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(10)
            in_flight = rows(db, "SELECT COUNT(*) FROM attempts WHERE status = 'dialing'")[0][0]
            assert in_flight == 5  # every attempt was committed before its Originate

            daemon = start_daemon(config, asterisk, log)
            await wait_for(
                lambda: (
                    rows(db, "SELECT COUNT(*) FROM attempts WHERE status = 'dialing'")[0][0] == 0
                ),
                45,
                "the adopted calls to end and be recorded",
            )
        finally:
            daemon.terminate()
            daemon.wait(20)
    assert daemon.returncode == 0, log.read_text()[-3000:]
    leads = rows(db, "SELECT phone, attempts, state, close_reason FROM leads ORDER BY id")
    assert len(leads) == 5 and all(attempts == 1 for _, attempts, _, _ in leads)
    outcomes = dict(rows(db, "SELECT phone, outcome FROM attempts"))
    assert {outcomes[p] for p in LONG_CALLS} == {"answered"}  # followed to their end after restart
    assert {outcomes[p] for p in RINGING} <= {"no_answer", "unknown"}
    # Asterisk itself saw each customer dialed exactly once
    assert observer.dialed == Counter({p[1:]: 1 for p in LONG_CALLS + RINGING})
    assert "in_flight_adopted" in log.read_text()


async def test_unsafe_phone_is_rejected_at_intake_and_nothing_reaches_ami(tmp_path, asterisk):
    config = write_config(tmp_path, asterisk)
    db = tmp_path / "dialerd.sqlite3"
    async with Observer(asterisk) as observer:
        daemon = start_daemon(config, asterisk, tmp_path / "daemon.log")
        try:
            for bad in ("+7916123\r\n1001", "+79161231001\r\nAction: Originate", "8916abc1001"):
                result = dialerd("leads", "add", bad, config=config)
                assert result.returncode == 2
                assert "lead rejected: phone:" in result.stderr
            await asyncio.sleep(1.0)
        finally:
            daemon.terminate()
            daemon.wait(20)
    assert rows(db, "SELECT COUNT(*) FROM leads")[0][0] == 0
    assert rows(db, "SELECT COUNT(*) FROM attempts")[0][0] == 0
    assert sum(observer.dialed.values()) == 0
