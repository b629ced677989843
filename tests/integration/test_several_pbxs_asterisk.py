"""`dialerd run` with two real Asterisk servers on one store, counted from each PBX's side:
every call Asterisk made has its attempt on that PBX and every attempt its call, and a
daemon SIGKILLed mid-call adopts each call on the PBX that carries it."""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support.observer import AmiObserver

pytestmark = pytest.mark.asterisk

TALK_6S = [f"+7916123{6000 + n}" for n in range(5)]  # answer, talk 6 s
TALK_2S = [f"+7916123{1000 + n}" for n in range(10)]  # answer, talk 2 s


def write_config(tmp_path: Path, east, west) -> Path:
    path = tmp_path / "dialerd.yaml"
    pbxs = "".join(
        f"  - name: {name}\n    host: {pbx.host}\n    port: {pbx.port}\n"
        f"    username: {pbx.username}\n    max_concurrent_calls: {lines}\n"
        "    reconnect_initial_s: 0.1\n    reconnect_max_s: 1\n"
        for name, pbx, lines in (("east", east, 3), ("west", west, 2))
    )
    path.write_text(
        f"""
store:
  path: {tmp_path / "dialerd.sqlite3"}
ami:
{pbxs}dialing:
  max_concurrent_calls: 10
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
logging:
  format: json
"""
    )
    return path


def dialerd(*args: str, config: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dialerd.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def start_daemon(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def customer_calls(observer: AmiObserver) -> Counter[str]:
    """Each customer call Asterisk created, by its call id (the ``;1`` half's Uniqueid)."""
    return Counter(
        seen.frame.get("Uniqueid", "")
        for seen in observer.named("Newchannel")
        if seen.frame.get("Channel", "").startswith("Local/")
        and "@customers" in seen.frame.get("Channel", "")
        and seen.frame.get("Channel", "").endswith(";1")
    )


async def wait_for(predicate, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_two_asterisks_one_store_each_call_once_on_its_own_pbx(
    tmp_path, asterisk, fresh_asterisk
):
    east, west = asterisk, fresh_asterisk()
    config = write_config(tmp_path, east, west)
    env = dict(
        os.environ, DIALERD_AMI__EAST__SECRET=east.secret, DIALERD_AMI__WEST__SECRET=west.secret
    )
    env.pop("DIALERD_AMI__SECRET", None)
    db = tmp_path / "dialerd.sqlite3"
    log = tmp_path / "daemon.log"
    assert dialerd("migrate", config=config, env=env).returncode == 0
    async with AmiObserver.of(east) as at_east, AmiObserver.of(west) as at_west:

        def dialed() -> int:
            return sum(customer_calls(at_east).values()) + sum(customer_calls(at_west).values())

        daemon = start_daemon(config, env, log)
        try:
            for phone in TALK_6S:
                added = dialerd("leads", "add", phone, config=config, env=env)
                assert added.returncode == 0, added.stderr
            await wait_for(lambda: dialed() == 5, 20, "5 calls on the two PBXs")
            await asyncio.sleep(0.5)  # answered, talking
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(10)
            left = dict(rows(db, "SELECT pbx, COUNT(*) FROM attempts GROUP BY pbx"))
            assert left == {"east": 3, "west": 2}  # each PBX's own line cap

            daemon = start_daemon(config, env, log)
            for phone in TALK_2S:
                added = dialerd("leads", "add", phone, config=config, env=env)
                assert added.returncode == 0, added.stderr
            await wait_for(
                lambda: (
                    rows(
                        db,
                        "SELECT COUNT(*) FROM leads WHERE attempts = 1 AND state != 'dialing'",
                    )[0][0]
                    == 15
                ),
                60,
                "every lead dialed and recorded",
            )
        finally:
            daemon.terminate()
            daemon.wait(20)
    assert daemon.returncode == 0, log.read_text()[-3000:]
    attempts = rows(db, "SELECT phone, call_id, pbx, outcome FROM attempts")
    assert Counter(phone for phone, *_ in attempts) == Counter(TALK_6S + TALK_2S)
    # counted on each PBX: every call it made has its attempt there, and every attempt its call
    for name, observer in (("east", at_east), ("west", at_west)):
        calls = customer_calls(observer)
        assert set(calls.values()) == {1}
        assert sorted(calls) == sorted(call_id for _, call_id, pbx, _ in attempts if pbx == name)
    # the calls cut off by the kill were followed on their own PBX to their real end
    assert {outcome for phone, _, _, outcome in attempts if phone in TALK_6S} == {"answered"}
    assert {outcome for *_, outcome in attempts} == {"answered"}
    assert log.read_text().count("in_flight_adopted") == 5
    # and each adopted call's log line names the PBX it was asked of
    adopted = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and '"in_flight_adopted"' in line
    ]
    carried = {call_id: pbx for phone, call_id, pbx, _ in attempts if phone in TALK_6S}
    assert {line["call_id"]: line.get("pbx") for line in adopted} == carried
