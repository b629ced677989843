"""The real engine and AMI adapter against the AMI simulator (a real TCP AMI server)."""

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support.scenarios import (
    OUTCOME_PHONES,
    add_leads,
    pbx_config,
    run_outcome_scenarios,
    running_engine,
    wait_until_settled,
)

from dialerd.clock import Clock
from dialerd.config import LoadedConfig, WindowSettings
from dialerd.daemon.wake import poke
from dialerd.dialer.events import AttemptStarted
from dialerd.domain import FinishedCall
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store import sql

SECRET = "sim-secret"
# every test on both store engines: on PostgreSQL the configs below name a database of the
# test's own (``engine_store``), and the engine claims with its lease
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]


@pytest.fixture
async def sim():
    async with AmiSimulator(secret=SECRET, time_scale=10.0) as simulator:
        yield simulator


def config(tmp_path, sim, **dialing):
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, **dialing)


async def test_each_outcome_is_recorded(tmp_path, sim):
    got = await run_outcome_scenarios(config(tmp_path, sim))
    assert {p: (r.outcome, r.cause_class, r.attempts) for p, r in got.items()} == {
        OUTCOME_PHONES["answered"]: ("answered", "normal", 1),
        OUTCOME_PHONES["busy"]: ("busy", "busy", 1),
        OUTCOME_PHONES["no_answer"]: ("no_answer", "no_answer", 1),
        OUTCOME_PHONES["congestion"]: ("congestion", "congestion", 1),
        OUTCOME_PHONES["failed"]: ("failed", "invalid_number", 1),
    }
    assert len(sim.originates) == 5


async def test_each_calls_astdb_entry_is_deleted_once_its_attempt_is_recorded(tmp_path, sim):
    """The [dialer-hangup] handler writes every call's end into AstDB, for a restart to
    settle a call whose end it missed; once the attempt is recorded the daemon deletes the
    entry, or AstDB would keep one for every call ever made."""
    written: list[str] = []
    write = sim._run_hangup_handler

    def noted(call, cause):
        write(call, cause)
        written.extend(key for key in sim.astdb if key == f"dialerd/{call.uniqueid}")

    sim._run_hangup_handler = noted
    got = await run_outcome_scenarios(config(tmp_path, sim))
    assert len(got) == 5 and len(written) >= 4  # written at each hangup (one never rang)

    def left() -> list[str]:
        return [key for key in sim.astdb if key.startswith("dialerd/")]

    deadline = time.monotonic() + 5
    while left() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert left() == []


async def test_originate_carries_ids_and_lead_variables(tmp_path, sim):
    async with running_engine(config(tmp_path, sim)) as (engine, db, pbx):
        (lead_id,) = await add_leads(db, [OUTCOME_PHONES["answered"]])
        engine.wake()
        await wait_until_settled(db, [lead_id])
        (attempt,) = await store.attempts_of(db, lead_id)
    (sent,) = sim.originates
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["channelid"] == attempt["call_id"]
    assert headers["actionid"] == attempt["action_id"]
    assert headers["channel"] == "Local/79161231001@customers"
    assert headers["async"] == "true"
    variables = (
        headers["variable"] if isinstance(headers["variable"], list) else [headers["variable"]]
    )
    assert f"DIALER_LEAD={lead_id}" in ",".join(variables)
    assert attempt["talk_s"] == pytest.approx(0.2, abs=0.15)  # 2 simulated s at x10


async def test_a_new_lead_is_dialed_without_waiting_for_a_poll(tmp_path, sim):
    loaded = config(tmp_path, sim, safety_recheck_s=600)
    started: list[float] = []
    async with running_engine(
        loaded,
        listeners=[lambda e: isinstance(e, AttemptStarted) and started.append(time.monotonic())],
    ) as (engine, db, pbx):
        await pbx.connected.wait()
        await asyncio.sleep(0.3)  # the engine is idle, asleep on its 600 s safety timer
        # what `dialerd leads add` does from another process: commit, then poke the socket
        # (PostgreSQL: the commit's NOTIFY is the wake-up, to every daemon on the store)
        t0 = time.monotonic()
        await add_leads(db, [OUTCOME_PHONES["busy"]])
        if loaded.settings.store.engine == "sqlite":
            assert poke(loaded.settings.store.wake_socket_path)
        async with asyncio.timeout(5):
            while not started:
                await asyncio.sleep(0.01)
    assert started[0] - t0 < 1.0


@pytest.mark.engines("postgresql")
async def test_a_dropped_listen_connection_is_made_again_and_wakes_as_before(tmp_path, sim):
    """The server cut the LISTEN connection (a restart, a failover): the daemon listens again,
    and the next lead committed elsewhere is dialed at once, not at the safety recheck."""
    loaded = config(tmp_path, sim, safety_recheck_s=600)
    started: list[float] = []
    async with running_engine(
        loaded,
        listeners=[lambda e: isinstance(e, AttemptStarted) and started.append(time.monotonic())],
    ) as (engine, db, pbx):
        await pbx.connected.wait()
        listening = "SELECT pid FROM pg_stat_activity WHERE application_name = 'dialerd-listen'"

        async def listener_pids() -> list[int]:
            return [int(r[0]) for r in await sql.rows(db.conn, listening)]

        async with asyncio.timeout(5):
            while not (before := await listener_pids()):
                await asyncio.sleep(0.05)
        await sql.rows(db.conn, "SELECT pg_terminate_backend(?)", (before[0],))
        async with asyncio.timeout(10):  # listening again, on a new connection
            while not (after := await listener_pids()) or after == before:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the reconnection's own wake-up has passed
        t0 = time.monotonic()
        await add_leads(db, [OUTCOME_PHONES["busy"]])
        async with asyncio.timeout(5):
            while not started:
                await asyncio.sleep(0.01)
    assert started[0] - t0 < 1.0


async def test_never_more_calls_than_lines(tmp_path, sim):
    peak = 0
    async with running_engine(config(tmp_path, sim, max_concurrent_calls=2)) as (engine, db, pbx):
        ids = await add_leads(db, [f"+7916123{5000 + n}" for n in range(6)])  # long calls (digit 5)
        engine.wake()
        async with asyncio.timeout(30):
            while True:
                peak = max(peak, len(sim.active_channels))
                rows = [await store.get_lead(db, i) for i in ids]
                if all(r["state"] == "closed" for r in rows):
                    break
                await asyncio.sleep(0.02)
    assert peak == 2
    assert len(sim.originates) == 6


async def test_ami_drop_mid_call_is_reconciled_and_never_redialed(tmp_path, sim):
    async with running_engine(config(tmp_path, sim)) as (engine, db, pbx):
        (lead_id,) = await add_leads(db, ["+79161235001"])  # answers, 30 simulated s = 3 s
        engine.wake()
        async with asyncio.timeout(5):
            while not sim.active_channels:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # answered by now
        await sim.drop_connections()
        await wait_until_settled(db, [lead_id], timeout_s=20)
        (attempt,) = await store.attempts_of(db, lead_id)
    assert len(sim.originates) == 1
    assert attempt["outcome"] == "answered"
    assert pbx.connects >= 2


async def ring_then_drop(tmp_path, sim, phone, **dialing):
    """Dial ``phone``, drop AMI once its channel exists, end the call while the daemon is blind."""
    loaded = config(tmp_path, sim, originate_timeout_s=20, **dialing)
    async with running_engine(loaded) as (engine, db, pbx):
        (lead_id,) = await add_leads(db, [phone])
        engine.wake()
        async with asyncio.timeout(5):
            while not sim.active_channels:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        await sim.drop_connections()
        for uniqueid in list(sim.active_channels):
            await sim.hangup(uniqueid)
        await wait_until_settled(db, [lead_id], timeout_s=20)
        (attempt,) = await store.attempts_of(db, lead_id)
        return attempt, await store.get_lead(db, lead_id)


async def test_call_whose_result_was_never_seen_is_unknown_and_retried_later(tmp_path, sim):
    # still ringing at the drop; no hangup handler, so Asterisk keeps no record of its end
    attempt, lead = await ring_then_drop(tmp_path, sim, "+79161233001", hangup_handler=None)
    assert attempt["outcome"] == "unknown" and "AMI connection lost" in attempt["note"]
    assert lead["state"] == "waiting" and lead["due_at"] > time.time() + 1000  # the retry delay
    assert len(sim.originates) == 1


async def test_call_that_rang_out_unobserved_is_settled_from_asterisks_record(tmp_path, sim):
    attempt, lead = await ring_then_drop(tmp_path, sim, "+79161233001")  # still ringing at the drop
    assert attempt["outcome"] == "no_answer"
    assert "settled from Asterisk's record" in attempt["note"]
    assert attempt["answered_at"] is None and lead["reached"] == 0
    assert len(sim.originates) == 1


async def test_answered_call_that_ended_during_a_drop_stays_answered(tmp_path, sim):
    attempt, lead = await ring_then_drop(tmp_path, sim, "+79161235001")  # answered before the drop
    assert attempt["outcome"] == "answered" and "ended while unobserved" in attempt["note"]
    assert lead["close_reason"] == "reached"
    assert len(sim.originates) == 1


async def test_wrong_secret_sends_nothing_and_keeps_trying(tmp_path, sim):
    loaded = pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, "wrong")
    async with running_engine(loaded) as (engine, db, pbx):
        await add_leads(db, [OUTCOME_PHONES["answered"]])
        engine.wake()
        await asyncio.sleep(1.0)
        assert not pbx.connected.is_set()
    assert sim.originates == []


async def test_unsafe_dial_string_is_never_sent(tmp_path, sim):
    # a campaign name is written into a channel variable: a CR/LF in it must stop the Originate
    async with running_engine(config(tmp_path, sim)) as (engine, db, pbx):
        await pbx.connected.wait()
        lead = store.NewLead(phone=store.Phone("+79161231001"), campaign="x\r\nAction: Hangup")
        lead_id = await store.insert_lead(db, lead, time.time())
        engine.wake()
        await wait_until_settled(db, [lead_id])
        (attempt,) = await store.attempts_of(db, lead_id)
    assert attempt["outcome"] == "failed" and attempt["note"].startswith("not sent")
    assert sim.originates == []


def moscow_day(tmp_path, sim, clock, **dialing):
    """The config with the default calling window (10:00-22:00 Moscow time), and a listener
    noting each call the engine starts, as (when, phone) in ``started``."""
    loaded = config(tmp_path, sim, **dialing)
    settings = loaded.settings.model_copy(update={"window": WindowSettings()})
    started: list[tuple[float, str]] = []

    def on_event(event):
        if isinstance(event, AttemptStarted):
            started.append((clock(), event.claim.phone.e164))

    return LoadedConfig(settings=settings, path=None), started, on_event


async def test_night_backlog_is_dialed_when_the_window_opens_new_leads_first(tmp_path, sim):
    msk = ZoneInfo("Europe/Moscow")
    opening = datetime(2026, 11, 23, 10, 0, tzinfo=msk).timestamp()
    clock = Clock(start=opening - 1.5)  # the engine starts at 09:59:58.5 Moscow time

    loaded, started, on_event = moscow_day(tmp_path, sim, clock, max_concurrent_calls=1)
    async with running_engine(loaded, listeners=[on_event], clock=clock) as (engine, db, pbx):
        night = opening - 11 * 3600
        retry = await store.insert_lead(db, store.NewLead(phone=Phone("+79161232001")), night - 600)
        await db.conn.execute(  # dialed yesterday, busy, due again since the night
            "UPDATE leads SET attempts = 1, rank = 2, due_at = ? WHERE id = ?", (night, retry)
        )
        for n, arrived in ((2, night + 60), (3, night)):  # two new leads from the night
            placement = store.Placement(deadline_at=opening + 900 + arrived - night)
            await store.insert_lead(
                db, store.NewLead(phone=Phone(f"+7916123200{n}")), arrived, placement
            )
        engine.wake()
        async with asyncio.timeout(15):
            while len(started) < 3:
                await asyncio.sleep(0.02)
    assert all(at >= opening for at, _ in started)  # nothing before 10:00
    assert started[0][0] - opening < 1.0  # the minute the window opens
    assert [phone for _, phone in started] == ["+79161232003", "+79161232002", "+79161232001"]


async def test_nothing_is_dialed_once_the_window_closes_while_the_engine_runs(tmp_path, sim):
    """The dial loop takes an open window as open until its next close: a lead that comes
    a moment after 22:00 waits for the morning, though the engine dialed at 21:59:59, and
    the loop leaves the store alone (no claim for the policy to put off) until then."""
    msk = ZoneInfo("Europe/Moscow")
    closing = datetime(2026, 11, 23, 22, 0, tzinfo=msk).timestamp()
    clock = Clock(start=closing - 1.0)  # the engine starts at 21:59:59 Moscow time

    loaded, started, on_event = moscow_day(tmp_path, sim, clock)
    async with running_engine(loaded, listeners=[on_event], clock=clock) as (engine, db, pbx):
        await store.insert_lead(db, store.NewLead(phone=Phone("+79161232001")), clock())
        engine.wake()
        async with asyncio.timeout(5):
            while not started:
                await asyncio.sleep(0.02)
        while clock() < closing + 0.3:
            await asyncio.sleep(0.05)
        arrived = clock()
        late = await store.insert_lead(db, store.NewLead(phone=Phone("+79161232002")), arrived)
        engine.wake()
        await asyncio.sleep(1.0)
        row = await sql.row(db.conn, "SELECT due_at FROM leads WHERE id = ?", (late,))
    assert [phone for _, phone in started] == ["+79161232001"]
    assert started[0][0] < closing
    assert row is not None and row[0] == pytest.approx(arrived, abs=0.01)  # not put off by a claim


async def test_nothing_is_dialed_until_asterisk_has_finished_booting(tmp_path):
    """A restarted Asterisk takes logins before its dialplan is loaded; an Originate then
    fails and would cost the lead an attempt. The daemon waits for FullyBooted."""
    async with AmiSimulator(secret=SECRET, time_scale=10.0, booted=False) as booting:
        async with running_engine(config(tmp_path, booting)) as (engine, db, pbx):
            (lead_id,) = await add_leads(db, [OUTCOME_PHONES["answered"]])
            engine.wake()
            await asyncio.sleep(1.0)
            assert not booting.originates and not pbx.connected.is_set()
            booting.finish_booting()
            await wait_until_settled(db, [lead_id], timeout_s=15)
            (attempt,) = await store.attempts_of(db, lead_id)
        assert attempt["outcome"] == "answered"
        assert len(booting.originates) == 1


async def test_each_send_time_is_stored_with_the_answer_or_with_the_end(tmp_path, sim):
    """The Originate's send time costs no write of its own: an answered call has it while
    the customer is still on the line (with the answer), a call never answered with its end."""
    long_call, busy = "+79161235001", "+79161232001"  # answers, long call; busy
    async with running_engine(config(tmp_path, sim, max_concurrent_calls=2)) as (engine, db, _):
        lead_ids = await add_leads(db, [long_call, busy])
        engine.wake()
        async with asyncio.timeout(5):
            while not (
                live := [
                    r
                    for r in await store.attempts_of(db)
                    if r["status"] == "dialing" and r["answered_at"] is not None
                ]
            ):
                await asyncio.sleep(0.02)
        (talking,) = live
        assert talking["phone"] == long_call
        assert talking["created_at"] <= talking["originated_at"] <= talking["answered_at"]
        await wait_until_settled(db, lead_ids, timeout_s=30)
        done = await store.attempts_of(db)
    assert sorted(r["outcome"] for r in done) == ["answered", "busy"]
    assert all(r["originated_at"] >= r["created_at"] for r in done)


async def test_a_call_no_event_will_settle_is_settled_when_its_grace_ends(tmp_path, sim):
    """An Originate Asterisk placed no channel for (an unknown channel technology) gets a
    failed response and no event after it: only its grace settles it, as not an attempt
    (the lead waits again, its attempt count unchanged)."""
    loaded = config(tmp_path, sim, channel_template="Bogus/{number}")
    async with running_engine(loaded) as (engine, db, pbx):
        await pbx.connected.wait()
        (lead_id,) = await add_leads(db, ["+79161231001"])
        engine.wake()
        async with asyncio.timeout(5):
            while not sim.originates or not await store.attempts_of(db, lead_id):
                await asyncio.sleep(0.01)
        sent = time.monotonic()
        async with asyncio.timeout(10):
            while await store.attempts_of(db, lead_id):
                await asyncio.sleep(0.02)
        settled_s = time.monotonic() - sent
        lead = await store.get_lead(db, lead_id)
    assert settled_s >= 1.5  # the 2 s grace for a channel to show, not an event, settled it
    assert (lead["state"], lead["attempts"]) == ("waiting", 0)


async def test_a_lead_that_came_while_every_line_was_taken_is_dialed_when_one_frees(tmp_path, sim):
    """The dial loop skips its look after a call's end when its last look found nothing due;
    a lead committed meanwhile must still be dialed the moment the line frees, not at the
    safety recheck (600 s here)."""
    loaded = config(tmp_path, sim, max_concurrent_calls=1, safety_recheck_s=600)
    started: dict[str, float] = {}
    ended: dict[str, float] = {}

    def on_event(event):
        if isinstance(event, AttemptStarted):
            started[event.claim.phone.e164] = time.monotonic()
        elif isinstance(event, FinishedCall):
            ended[event.call_id] = time.monotonic()

    first, second = OUTCOME_PHONES["answered"], OUTCOME_PHONES["busy"]
    async with running_engine(loaded, listeners=[on_event]) as (engine, db, pbx):
        await pbx.connected.wait()
        await add_leads(db, [first])
        engine.wake()
        async with asyncio.timeout(5):
            while first not in started:
                await asyncio.sleep(0.005)
        await add_leads(db, [second])  # the one line is taken: this lead waits for it
        engine.wake()
        async with asyncio.timeout(10):
            while second not in started:
                await asyncio.sleep(0.01)
        assert ended, "the second lead went out before the first call ended"
    assert started[second] - min(ended.values()) < 1.0


async def test_a_retry_is_dialed_at_its_due_time_without_a_poll(tmp_path, sim):
    """A busy customer's lead is due again after its retry delay (1 s here): the dial loop
    hears of it from the call's end, and wakes for it, not at the safety recheck."""
    loaded = pbx_config(
        tmp_path / "d.sqlite3",
        "127.0.0.1",
        sim.port,
        SECRET,
        safety_recheck_s=600,
        extra={
            "campaigns": {"default": {"retry_delays": {"busy": 1}, "max_attempts": 2}},
            "phone_limits": {"min_gap_min": 0},  # else the phone's own gap defers it 5 min
        },
    )
    async with running_engine(loaded) as (engine, db, pbx):
        (lead_id,) = await add_leads(db, [OUTCOME_PHONES["busy"]])
        engine.wake()
        async with asyncio.timeout(10):
            while len(done := await store.attempts_of(db, lead_id)) < 2 or any(
                r["status"] != "done" for r in done
            ):
                await asyncio.sleep(0.05)
    first, second = done
    assert [first["outcome"], second["outcome"]] == ["busy", "busy"]
    assert 1.0 <= second["created_at"] - first["ended_at"] < 2.0


async def test_a_lead_nobody_told_the_engine_of_is_found_at_the_safety_recheck_under_load(
    tmp_path, sim
):
    """The look after a call's end is skipped while the last look says nothing is due, but
    never for longer than ``safety_recheck_s`` (1 s here): a lead committed without a
    wake-up (another tool's write) is dialed within it even while calls end every 0.1 s,
    each of them waking the dial loop before its safety timer runs out."""
    loaded = config(tmp_path, sim, max_concurrent_calls=40, safety_recheck_s=1)
    started: dict[str, float] = {}

    def on_event(event):
        if isinstance(event, AttemptStarted):
            started[event.claim.phone.e164] = time.monotonic()

    async with running_engine(loaded, listeners=[on_event]) as (engine, db, pbx):
        await pbx.connected.wait()
        for n in range(30):  # calls of 3 s, one every 0.1 s: they end one every 0.1 s
            await add_leads(db, [f"+7916123{5000 + n}"])
            engine.wake()
            await asyncio.sleep(0.1)
        async with asyncio.timeout(10):
            while not any(r["status"] == "done" for r in await store.attempts_of(db)):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # the ends' stream is under way
        committed = time.monotonic()
        await add_leads(db, [OUTCOME_PHONES["busy"]])  # no wake-up, no poke
        async with asyncio.timeout(10):
            while OUTCOME_PHONES["busy"] not in started:
                await asyncio.sleep(0.02)
        still_ending = [r for r in await store.attempts_of(db) if r["status"] == "dialing"]
    # within the safety recheck and a look (with room for a loaded test box), while the
    # calls were still ending: without the bound it waited for the ends to stop
    assert started[OUTCOME_PHONES["busy"]] - committed < 2.5
    assert still_ending, "the calls had all ended: the safety timer itself could have fired"
