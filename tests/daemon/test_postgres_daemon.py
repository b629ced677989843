"""``dialerd run`` on a PostgreSQL store, as real processes on the AMI simulator.

One daemon dials a batch to the end and wakes at once for a lead another process commits
(LISTEN/NOTIFY, no wake socket); a daemon SIGKILLed with calls up is restarted and takes its
calls back (none dialed again, none left 'dialing'); two daemons share one pool of leads
without dialing any twice; and a daemon killed for good has its calls taken over by the
other once its leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, NotifyListener, Peak, answering, wait_for
from support.postgres import PostgresInstance
from support.webhook import WebhookServer

from dialerd.cli.main import EXIT_TEMPFAIL
from dialerd.config.store import postgres_target
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.policy.phones import Phone
from dialerd.store import leads as lead_store
from dialerd.store import outbox, sql
from dialerd.store.pg import PgDatabase, open_pg_store

pytestmark = pytest.mark.postgres

PROMPTLY_S = 5.0  # far below the engine's 30 s safety recheck: only a NOTIFY gets there
LEASE_S = 3  # short, so that a takeover comes within the test


class Pool:
    """The test's own connections to the store the daemons share."""

    def __init__(self, server: PostgresInstance, name: str, db: PgDatabase) -> None:
        self.server = server
        self.name = name
        self.db = db

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    async def add(self, phones: list[str]) -> list[int]:
        """What intake does: commit the leads (its NOTIFY wakes the daemons)."""
        return [
            await lead_store.insert_lead(self.db, lead_store.NewLead(phone=Phone(p)), time.time())
            for p in phones
        ]

    async def count(self, statement: str) -> int:
        found = await sql.row(self.db.conn, statement)
        assert found is not None
        return int(found[0])

    async def settled(self, *, unknown_ok: bool = False) -> bool:
        """Every lead dialed and its attempt recorded: nothing waiting, nothing dialing.

        ``unknown_ok``: a lead whose only attempt ended ``unknown`` may wait for its retry
        (a daemon killed between its Originate and the call's first trace on the PBX)."""
        open_leads = "SELECT COUNT(*) FROM leads WHERE state <> 'closed'"
        if unknown_ok:
            open_leads += " AND id NOT IN (SELECT lead_id FROM attempts WHERE outcome = 'unknown')"
        return await self.count(open_leads) == 0 and (
            await self.count("SELECT COUNT(*) FROM attempts WHERE status = 'dialing'") == 0
        )

    async def never_sent_only_unknown(self, batch: list[str], sent: Counter[str]) -> bool:
        """Every lead of ``batch`` the PBX never saw has an ``unknown`` attempt: a daemon
        killed between an attempt's commit and its Originate places no call, and the lead is
        not dialed again at once (its retry comes later)."""
        unknown = await sql.rows(
            self.db.conn,
            "SELECT l.phone FROM attempts a JOIN leads l ON l.id = a.lead_id"
            " WHERE a.outcome = 'unknown'",
        )
        never_sent = {p.lstrip("+") for p in batch} - set(sent)
        return never_sent <= {str(r[0]).lstrip("+") for r in unknown}

    async def wait_settled(self, within_s: float, *, unknown_ok: bool = False) -> None:
        deadline = time.monotonic() + within_s
        while not await self.settled(unknown_ok=unknown_ok):
            assert time.monotonic() < deadline, "timed out waiting for every lead to settle"
            await asyncio.sleep(0.1)


@pytest.fixture
async def pool(postgres: PostgresInstance) -> AsyncIterator[Pool]:
    name = postgres.new_database()
    try:
        async with open_pg_store(postgres_target(postgres.url(name)), postgres.password) as db:
            yield Pool(postgres, name, db)
    finally:
        postgres.drop_database(name)


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret="sim-secret", time_scale=1.0) as simulator:
        yield simulator


def a_daemon(
    tmp_path: Path, sim: AmiSimulator, pool: Pool, name: str, *, extra: str = ""
) -> Daemon:
    where = tmp_path / name
    where.mkdir()
    daemon = Daemon(
        where, sim, NotifyListener(), store_url=pool.url, store_password=pool.server.password
    )
    daemon.write_config(
        max_concurrent_calls=5,
        extra=f"daemon:\n  id: {name}\n  lease_s: {LEASE_S}\n{extra}",
    )
    return daemon


async def stop(daemon: Daemon) -> None:
    await daemon.kill()
    daemon.notify.close()


async def status(daemon: Daemon) -> list[dict[str, Any]]:
    """``dialerd status --format json`` as an operator runs it, next to the daemon."""
    env = {**os.environ, "DIALERD_STORE__PASSWORD": daemon.store_password or ""}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialerd.cli", "status", "--format", "json",
        "--config", str(daemon.config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def dialed(sim: AmiSimulator) -> Counter[str]:
    """How many Originates the PBX received for each number."""
    return Counter(o.headers["Channel"].split("/")[1].split("@")[0] for o in sim.originates)


def phones(count: int, base: int = 79161230000) -> list[str]:
    return [f"+{base + n}" for n in range(count)]


async def test_a_daemon_on_postgresql_dials_every_lead_once_and_wakes_on_notify(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    sim.rule = answering(0.2)
    batch = phones(20)
    await pool.add(batch)
    daemon = a_daemon(tmp_path, sim, pool, "solo")
    try:
        await daemon.start()
        await daemon.notify.expect("READY=1")
        await pool.wait_settled(30)
        assert dialed(sim) == Counter({p.lstrip("+"): 1 for p in batch})
        assert await pool.count("SELECT COUNT(*) FROM attempts") == 20
        assert await pool.count("SELECT COUNT(*) FROM leases") == 0  # each ended with its call
        assert await pool.count("SELECT COUNT(*) FROM daemons WHERE id = 'solo'") == 1

        # a lead committed by another process is dialed at once: the NOTIFY woke the daemon
        await pool.add(["+79161239999"])
        await wait_for(lambda: len(sim.originates) == 21, PROMPTLY_S, "the new lead's call")

        listed = await status(daemon)
        assert [(d["id"], d["pbx"], d["state"], d["calls"]) for d in listed] == [
            ("solo", f"127.0.0.1:{sim.port}", "alive", 0)
        ]
        assert listed[0]["heartbeat_age_s"] <= LEASE_S

        daemon.signal(signal.SIGTERM)
        assert await daemon.exit_code() == 0, daemon.tail()
    finally:
        await stop(daemon)
    assert "Traceback" not in daemon.log.read_text()
    assert await status(daemon) == []
    assert await pool.count("SELECT COUNT(*) FROM daemons") == 0  # left cleanly: row gone
    assert daemon.events("daemon_registered")[0]["daemon_id"] == "solo"


async def test_a_daemon_sigkilled_mid_call_takes_its_calls_back_after_a_restart(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    sim.rule = answering(3.0)
    batch = phones(10)
    await pool.add(batch)
    daemon = a_daemon(tmp_path, sim, pool, "restarted")
    try:
        await daemon.start()
        await wait_for(lambda: len(sim.active_channels) >= 3, 10, "calls to be up")
        await daemon.kill()  # SIGKILL with calls up: their attempts stay 'dialing', leased
        in_flight = await pool.count("SELECT COUNT(*) FROM attempts WHERE status = 'dialing'")
        assert in_flight >= 3
        assert await pool.count("SELECT COUNT(*) FROM leases") == in_flight

        await daemon.start()  # the same daemon.id: its calls are its own, adopted at once
        await pool.wait_settled(60, unknown_ok=True)
    finally:
        await stop(daemon)
    sent = dialed(sim)
    assert set(sent.values()) == {1}, "a lead was dialed twice"
    assert await pool.never_sent_only_unknown(batch, sent)
    assert await pool.count("SELECT COUNT(*) FROM attempts") == 10
    assert len(daemon.events("in_flight_adopted")) == in_flight
    assert daemon.events("call_taken_over") == []  # its own: nothing to take over


async def test_two_daemons_share_200_leads_and_dial_none_twice(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    sim.rule = answering(0.05)
    batch = phones(200)
    await pool.add(batch)
    first = a_daemon(tmp_path, sim, pool, "first")
    second = a_daemon(tmp_path, sim, pool, "second")
    try:
        await first.start()
        await second.start()
        await pool.wait_settled(120)
        for daemon in (first, second):
            daemon.signal(signal.SIGTERM)
            assert await daemon.exit_code() == 0, daemon.tail()
    finally:
        await stop(first)
        await stop(second)
    assert dialed(sim) == Counter({p.lstrip("+"): 1 for p in batch}), "a lead was dialed twice"
    assert await pool.count("SELECT COUNT(*) FROM attempts") == 200
    started = [len(d.events("originate_sent")) for d in (first, second)]
    assert all(started), f"both daemons dialed: {started}"


async def test_a_daemon_killed_for_good_has_its_calls_taken_over_by_the_other(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    sim.rule = answering(4.0)
    batch = phones(6)
    await pool.add(batch)
    doomed = a_daemon(tmp_path, sim, pool, "doomed")
    heir = a_daemon(tmp_path, sim, pool, "heir")
    try:
        await doomed.start()
        await wait_for(lambda: len(sim.active_channels) >= 3, 10, "calls to be up")
        await doomed.kill()
        killed_at = time.monotonic()
        orphans = await pool.count("SELECT COUNT(*) FROM leases WHERE daemon_id = 'doomed'")
        assert orphans >= 3
        await heir.start()
        await pool.wait_settled(60, unknown_ok=True)
        took_s = time.monotonic() - killed_at
    finally:
        await stop(doomed)
        await stop(heir)
    sent = dialed(sim)
    assert set(sent.values()) == {1}, "a lead was dialed twice"
    assert await pool.never_sent_only_unknown(batch, sent)
    taken = heir.events("call_taken_over")
    assert len(taken) == orphans and {t["from_daemon"] for t in taken} == {"doomed"}
    assert await pool.count("SELECT COUNT(*) FROM leases") == 0
    assert took_s < 60


async def test_a_second_daemon_under_the_same_id_is_refused(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    """Two daemons under one id would each take the other's calls for their own."""
    first = a_daemon(tmp_path, sim, pool, "twin")
    (tmp_path / "other").mkdir()
    second = a_daemon(tmp_path / "other", sim, pool, "twin")
    try:
        await first.start()
        await first.notify.expect("READY=1")
        await second.start()
        code = await second.exit_code()
    finally:
        await stop(first)
        await stop(second)
    assert code == EXIT_TEMPFAIL, second.tail()
    refusal = second.log.read_text()
    assert "daemon id 'twin' is in use by pid" in refusal and "daemon.id" in refusal
    assert "Traceback" not in refusal


async def test_a_daemon_that_can_no_longer_vouch_for_its_calls_stops_dialing(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    """Its row removed (an operator took it for dead): another daemon may be following its
    calls, so it stops at once and exits non-zero for systemd to start it afresh."""
    daemon = a_daemon(tmp_path, sim, pool, "removed")
    try:
        await daemon.start()
        await daemon.notify.expect("READY=1")
        await sql.run(pool.db.conn, "DELETE FROM daemons WHERE id = 'removed'")
        code = await daemon.exit_code(within_s=LEASE_S * 3)
    finally:
        await stop(daemon)
    assert code == 1, daemon.tail()
    assert "dialerd: stopped: daemon removed is not registered in the store" in daemon.tail()
    assert len(daemon.events("heartbeat_lost")) == 1


async def test_connections_cut_mid_call_are_made_again_and_every_call_is_recorded(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    """Every connection to the store killed while calls are up (what a failover to a server
    that answers at once does): the daemon connects again, listens again, records each
    call's end and keeps running."""
    sim.rule = answering(2.0)
    batch = phones(4)
    await pool.add(batch)
    daemon = a_daemon(tmp_path, sim, pool, "cut")
    try:
        await daemon.start()
        await wait_for(lambda: len(sim.active_channels) >= 2, 10, "calls to be up")
        pool.server.psql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{pool.name}'"
        )
        deadline = time.monotonic() + 30
        while True:  # the test's own connections were cut too: its pool makes new ones
            with contextlib.suppress(*sql.STORE_ERRORS):
                if await pool.settled():
                    break
            assert time.monotonic() < deadline, "timed out waiting for every lead to settle"
            await asyncio.sleep(0.1)
        assert daemon.proc is not None and daemon.proc.returncode is None, daemon.tail()
    finally:
        await stop(daemon)
    assert dialed(sim) == Counter({p.lstrip("+"): 1 for p in batch})
    assert len(daemon.events("leads_listening")) == 2  # at start, and again after the cut
    assert daemon.events("engine_crashed") == []


async def results(pool: Pool, count: int, base: int) -> None:
    """``count`` leads closed with a result for the CRM, as intake or the console commit
    them (the commit's NOTIFY wakes the daemons)."""
    for lead_id in await pool.add(phones(count, base)):
        async with pool.db.transaction() as conn:
            await sql.run(
                conn,
                "UPDATE leads SET state = 'closed', close_reason = 'cancelled', closed_at = ?"
                " WHERE id = ?",
                (time.time(), lead_id),
            )
            await outbox.enqueue_result(conn, lead_id, time.time())


async def test_one_daemon_pushes_results_and_another_takes_over_when_it_dies(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    """Both daemons have the CRM configured; only the leader pushes. Killed, it frees the
    lead at once: the other pushes what comes next, and the CRM gets every result once."""
    crm = WebhookServer(secret="crm-key")
    await crm.start()
    (tmp_path / "crm.secret").write_text("crm-key")
    crm_section = f"crm:\n  url: {crm.url}\n  secret_file: {tmp_path / 'crm.secret'}\n"
    first = a_daemon(tmp_path, sim, pool, "first", extra=crm_section)
    second = a_daemon(tmp_path, sim, pool, "second", extra=crm_section)
    try:
        await first.start()
        await first.notify.expect("READY=1")
        await second.start()
        await second.notify.expect("READY=1")
        assert sorted((d["id"], d["leader"]) for d in await status(second)) == [
            ("first", "yes"),
            ("second", ""),
        ]
        await results(pool, 5, 79161240000)
        await crm.wait_for(lambda s: len(s.delivered()) >= 5, timeout_s=PROMPTLY_S)
        await wait_for(lambda: len(first.events("crm_delivered")) == 5, 5, "recorded")
        assert second.events("crm_delivered") == []

        await first.kill()
        killed_at = time.monotonic()
        await results(pool, 5, 79161250000)
        await crm.wait_for(lambda s: len(s.delivered()) >= 10, timeout_s=PROMPTLY_S + 5)
        took_s = time.monotonic() - killed_at
        await wait_for(lambda: len(second.events("crm_delivered")) == 5, 5, "recorded")
        leaders = {d["id"]: d["leader"] for d in await status(second)}
        await asyncio.sleep(0.5)  # nothing more arrives
    finally:
        await stop(first)
        await stop(second)
        await crm.stop()
    keys = await sql.rows(pool.db.conn, "SELECT idempotency_key FROM outbox")
    assert Counter(r.key for r in crm.received) == {str(k[0]): 1 for k in keys}
    assert len(keys) == 10 and all(r.signature_ok for r in crm.received)
    assert len(second.events("leader_taken")) == 1
    assert leaders["second"] == "yes"
    assert took_s < 5.0  # the dead leader's session ended with it: no lease to wait out


async def test_a_daemon_hung_for_a_whole_lease_leaves_its_calls_to_the_heir_and_exits(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    """A hung host (the process stopped, then resumed): while it is stopped the other daemon
    takes over its calls and the lead of the once-only work; resumed, it finds its leases
    ran out, stops dialing and exits 1 for systemd, recording nothing over the heir's work."""
    sim.rule = answering(5.0)
    batch = phones(5)
    await pool.add(batch)
    hung = a_daemon(tmp_path, sim, pool, "hung")
    heir = a_daemon(tmp_path, sim, pool, "heir")
    try:
        await hung.start()
        await wait_for(lambda: len(sim.active_channels) >= 5, 10, "calls to be up")
        await heir.start()
        await heir.notify.expect("READY=1")
        hung.signal(signal.SIGSTOP)
        held = await pool.count("SELECT COUNT(*) FROM leases WHERE daemon_id = 'hung'")
        assert held == 5
        await wait_for(lambda: len(heir.events("call_taken_over")) == held, 15, "the takeover")
        await wait_for(lambda: len(heir.events("leader_taken")) == 1, LEASE_S + 5, "the lead")
        await pool.wait_settled(15)  # the calls end, recorded by the heir
        more = phones(3, 79161260000)
        await pool.add(more)  # waiting when the hung daemon resumes
        hung.signal(signal.SIGCONT)
        code = await hung.exit_code(within_s=LEASE_S * 3)
        await pool.wait_settled(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            hung.signal(signal.SIGCONT)
        await stop(hung)
        await stop(heir)
    assert code == 1, hung.tail()
    assert "the leases ran out" in hung.tail()
    assert dialed(sim) == Counter({p.lstrip("+"): 1 for p in batch + more}), "dialed twice"
    assert hung.events("attempt_finished") == []  # every end is the heir's record
    assert len(heir.events("attempt_finished")) == 8
    assert len(hung.events("originate_sent")) == 5  # nothing dialed after it resumed


async def test_two_daemons_on_one_pbx_never_put_more_calls_on_it_than_its_lines(
    tmp_path: Path, sim: AmiSimulator, pool: Pool
):
    """ami.max_concurrent_calls is the PBX's lines, whoever dials: two daemons with 4 lines
    each on one 4-line PBX carry 4 calls between them, not 8."""
    sim.rule = answering(0.5)
    batch = phones(24)
    pair = [a_daemon(tmp_path, sim, pool, name) for name in ("left", "right")]
    for daemon in pair:
        daemon.write_config(
            max_concurrent_calls=8,
            extra=f"daemon:\n  id: {daemon.dir.name}\n  lease_s: {LEASE_S}\n",
        )
        daemon.config.write_text(
            daemon.config.read_text().replace(
                "  login_timeout_s: 3\n", "  login_timeout_s: 3\n  max_concurrent_calls: 4\n"
            )
        )
    try:
        async with Peak(sim) as peak:
            for daemon in pair:
                await daemon.start()
                await daemon.notify.expect("READY=1")
            await pool.add(batch)  # both woken at once, both claiming
            await pool.wait_settled(60)
        for daemon in pair:
            daemon.signal(signal.SIGTERM)
            assert await daemon.exit_code() == 0, daemon.tail()
    finally:
        for daemon in pair:
            await stop(daemon)
    assert dialed(sim) == Counter({p.lstrip("+"): 1 for p in batch}), "a lead was dialed twice"
    assert peak.value == 4, peak.value
    assert all(daemon.events("originate_sent") for daemon in pair)
