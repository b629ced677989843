"""Two ``dialerd run`` on one PostgreSQL store and one real Asterisk: one is SIGKILLed with
calls up, the other takes them over once their leases run out, and Asterisk itself (an
independent AMI session) saw every customer dialed exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_crash_recovery import Observer, wait_for

from dialerd.config.store import postgres_target
from dialerd.policy.phones import Phone
from dialerd.store import leads as lead_store
from dialerd.store import sql
from dialerd.store.pg import open_pg_store

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

LONG_CALLS = [f"+7916123{5010 + n}" for n in range(4)]  # answer; the operator hangs up after 20 s
RINGING = [f"+7916123{3010 + n}" for n in range(2)]  # ring until the Originate timeout
LEASE_S = 3


def write_config(where: Path, asterisk, url: str, daemon_id: str) -> Path:
    where.mkdir()
    path = where / "dialerd.yaml"
    path.write_text(
        f"""
store:
  url: {url}
  path: {where / "state.sqlite3"}  # only where the operators' state file goes
ami:
  host: {asterisk.host}
  port: {asterisk.port}
  username: {asterisk.username}
  reconnect_initial_s: 0.1
  reconnect_max_s: 1
dialing:
  max_concurrent_calls: 3
  channel_template: "Local/{{number}}@customers"
  context: operators
  exten: "101"
  originate_timeout_s: 8
window: {{open: "00:00", close: "00:00"}}
campaigns:
  default:
    retry_delays: {{busy: 3600, no_answer: 3600, congestion: 3600, failed: 3600, unknown: 3600}}
api:
  enabled: false
console:
  enabled: false
daemon:
  id: {daemon_id}
  lease_s: {LEASE_S}
logging:
  format: json
"""
    )
    return path


def start_daemon(config: Path, asterisk, password: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DIALERD_AMI__SECRET=asterisk.secret, DIALERD_STORE__PASSWORD=password)
    with (config.parent / "daemon.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


async def count(db, statement: str) -> int:
    found = await sql.row(db.conn, statement)
    assert found is not None
    return int(found[0])


async def test_a_killed_daemon_s_calls_are_taken_over_and_nobody_is_dialed_twice(
    tmp_path, asterisk, postgres
):
    name = postgres.new_database()
    url = postgres.url(name)
    try:
        async with open_pg_store(postgres_target(url), postgres.password) as db:
            for phone in LONG_CALLS + RINGING:
                await lead_store.insert_lead(
                    db, lead_store.NewLead(phone=Phone(phone)), time.time()
                )
            doomed_config = write_config(tmp_path / "doomed", asterisk, url, "doomed")
            heir_config = write_config(tmp_path / "heir", asterisk, url, "heir")
            async with Observer(asterisk) as observer:
                doomed = start_daemon(doomed_config, asterisk, postgres.password)
                heir = None
                try:
                    await wait_for(lambda: sum(observer.dialed.values()) == 3, 20, "3 calls")
                    heir = start_daemon(heir_config, asterisk, postgres.password)
                    await wait_for(lambda: sum(observer.dialed.values()) == 6, 20, "6 calls")
                    await asyncio.sleep(0.5)  # the long calls answered, the others ringing
                    doomed.send_signal(signal.SIGKILL)
                    killed_at = time.time()
                    doomed.wait(10)
                    orphans = await count(
                        db, "SELECT COUNT(*) FROM leases WHERE daemon_id = 'doomed'"
                    )
                    assert orphans >= 1
                    deadline = time.monotonic() + 60
                    while await count(
                        db,  # every lead dialed (the ringing ones wait an hour to retry) and ended
                        "SELECT COUNT(*) FROM leads WHERE attempts = 0 OR state = 'dialing'",
                    ):
                        assert time.monotonic() < deadline, "timed out: a lead never settled"
                        await asyncio.sleep(0.2)
                finally:
                    for process in (doomed, heir):
                        if process is not None and process.poll() is None:
                            process.terminate()
                            process.wait(30)
            assert await count(db, "SELECT COUNT(*) FROM attempts WHERE status = 'dialing'") == 0
            assert await count(db, "SELECT COUNT(*) FROM attempts") == 6
            assert await count(db, "SELECT COUNT(*) FROM leases") == 0
        heir_log = (tmp_path / "heir" / "daemon.log").read_text()
        taken = [json.loads(line) for line in heir_log.splitlines() if '"call_taken_over"' in line]
        assert len(taken) == orphans, heir_log[-3000:]
        # within a lease of the kill, plus the third of a lease between two looks
        took_s = max(dt.datetime.fromisoformat(t["timestamp"]).timestamp() for t in taken)
        assert took_s - killed_at < LEASE_S * 4 / 3 + 1.0, took_s - killed_at
        assert heir is not None and heir.returncode == 0, heir_log[-3000:]
        # Asterisk itself saw each customer dialed exactly once
        assert observer.dialed == Counter({p[1:]: 1 for p in LONG_CALLS + RINGING})
    finally:
        postgres.drop_database(name)
