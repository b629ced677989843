"""What the reports read (issue 6), recorded by the running daemon on the AMI simulator:
operators' state over time (``operator_states``) and inbound queue calls (``inbound_calls``)."""

import asyncio
import time
from dataclasses import replace

import pytest
from support.scenarios import add_leads, pbx_config, running_engine, wait_until_settled

from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.operator_log import OperatorLog
from dialerd.pbx.events import MemberState
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.store import sql
from dialerd.store.db import open_store
from dialerd.store.sql import open_configured

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"
OPERATORS = ("101", "102")


def answers_after_talking(talk_s):
    return lambda number: SimOutcome("answer", talk_s=talk_s)


@pytest.fixture
async def sim():
    async with AmiSimulator(
        secret=SECRET, time_scale=1.0, rule=answers_after_talking(1.0)
    ) as simulator:
        for name in OPERATORS:
            simulator.add_member("sales", f"Local/{name}@operators", f"Operator {name}")
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def config(tmp_path, sim, operators=OPERATORS, **more):
    extra = {
        **more,
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in operators
        ],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def rows(db, statement, args=()):
    return [dict(row) for row in await sql.rows(db.conn, statement, args)]


async def until(check, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while not (result := await check()):
            await asyncio.sleep(0.05)
    return result


async def states_of(db, operator):
    return await rows(
        db, "SELECT * FROM operator_states WHERE operator = ? ORDER BY id", (operator,)
    )


async def free_everyone(db):
    """Until the board has synced and every operator's 'free' row is written."""

    async def check():
        found = [await states_of(db, name) for name in OPERATORS]
        return all(r and r[-1]["state"] == "free" for r in found)

    await until(check)


async def test_an_operator_is_free_then_busy_on_a_dialer_call_then_free_again(tmp_path, sim):
    loaded = config(tmp_path, sim)
    async with running_engine(loaded) as (engine, db, _pbx):
        await free_everyone(db)
        started = time.time()
        (lead_id,) = await add_leads(db, ["+79161231001"])
        engine.wake()
        await wait_until_settled(db, [lead_id])
        (attempt,) = await rows(db, "SELECT * FROM attempts")

        async def freed_again():
            states = await states_of(db, attempt["operator"])
            return (
                states
                if [s["state"] for s in states][-1:] == ["free"] and len(states) > 2
                else None
            )

        states = await until(freed_again)
    assert attempt["operator"] in OPERATORS
    assert [s["state"] for s in states] == ["unknown", "free", "busy", "free"]
    _unknown, free, busy, free_again = states
    assert free["ended_at"] == busy["started_at"] >= started
    assert busy["ended_at"] == free_again["started_at"]
    assert 0.8 <= busy["ended_at"] - busy["started_at"] <= 3.0  # the 1 s conversation
    # the other operator took no call: free from the sync until the stop
    other = next(name for name in OPERATORS if name != attempt["operator"])
    async with open_configured(loaded.settings.store) as db:
        assert [s["state"] for s in await states_of(db, other)] == ["unknown", "free"]
        # a clean stop closed every row, at the same moment
        open_rows = await rows(db, "SELECT * FROM operator_states WHERE ended_at IS NULL")
        ends = await rows(
            db,
            "SELECT DISTINCT ended_at FROM operator_states WHERE state = 'free'"
            " AND id IN (SELECT MAX(id) FROM operator_states GROUP BY operator)",
        )
    assert open_rows == []
    assert len(ends) == 1


async def test_a_restart_closes_rows_a_killed_daemon_left_open_at_seen_until(tmp_path, sim):
    loaded = config(tmp_path, sim)
    # what a daemon killed at 1000.0 left behind
    async with open_configured(loaded.settings.store) as db:
        async with db.transaction() as conn:
            await sql.run(
                conn,
                "INSERT INTO operator_states (operator, state, started_at, seen_until)"
                " VALUES ('101', 'busy', 900.0, 960.0), ('102', 'free', 950.0, 990.0)",
            )
    async with running_engine(loaded) as (_engine, db, _pbx):
        await free_everyone(db)
        old = await rows(
            db, "SELECT operator, ended_at FROM operator_states WHERE started_at < 999"
        )
    assert sorted((r["operator"], r["ended_at"]) for r in old) == [("101", 960.0), ("102", 990.0)]


async def test_inbound_queue_calls_are_recorded_with_wait_outcome_and_operator(tmp_path, sim):
    # (no callback of the abandoned caller: it would take the one operator)
    loaded = config(tmp_path, sim, operators=("101",), missed_calls={"enabled": False})
    sim.members.pop()  # one member: 101
    async with running_engine(loaded) as (_engine, db, _pbx):
        await until(lambda: states_of(db, "101"))
        answered = sim.queue_call("+79161230001", "answer", after_s=1.0, talk_s=0.5)
        abandoned = sim.queue_call("+79161230002", "abandon", after_s=0.5)
        left = sim.queue_call("+79161230003", "leave", after_s=0.3)

        async def all_settled():
            found = await rows(db, "SELECT * FROM inbound_calls ORDER BY id")
            return found if len(found) == 3 and all(r["outcome"] for r in found) else None

        calls = {r["uniqueid"]: r for r in await until(all_settled)}
    assert calls[answered]["outcome"] == "answered"
    assert calls[answered]["operator"] == "101"  # the board's name, not "Operator 101"
    assert calls[answered]["wait_s"] == 1.0  # Asterisk's HoldTime
    assert calls[answered]["answered_at"] - calls[answered]["joined_at"] == pytest.approx(
        1.0, abs=0.5
    )
    assert calls[abandoned]["outcome"] == "abandoned"
    assert calls[abandoned]["operator"] is None and calls[abandoned]["answered_at"] is None
    assert calls[left]["outcome"] == "left"
    assert calls[left]["wait_s"] == pytest.approx(0.3, abs=0.3)
    assert {r["caller"] for r in calls.values()} == {"+79161230001", "+79161230002", "+79161230003"}
    assert {r["queue"] for r in calls.values()} == {"sales"}


async def test_the_dialers_own_calls_through_the_queue_are_not_inbound_calls(tmp_path, sim):
    loaded = config(tmp_path, sim)
    async with running_engine(loaded) as (engine, db, _pbx):
        await free_everyone(db)
        lead_ids = await add_leads(db, ["+79161231001", "+79161231002"])
        engine.wake()
        await wait_until_settled(db, lead_ids)
        inbound = sim.queue_call("+79161230009", "answer", after_s=0.0, talk_s=0.2)
        found = await until(
            lambda: rows(db, "SELECT * FROM inbound_calls WHERE outcome IS NOT NULL")
        )
        attempts = await rows(db, "SELECT outcome, operator FROM attempts")
    assert [r["uniqueid"] for r in found] == [inbound]
    assert [a["outcome"] for a in attempts] == ["answered", "answered"]
    assert all(a["operator"] in OPERATORS for a in attempts)  # they did go through the queue


async def test_wrapup_and_rest_end_on_a_timer_without_any_event(tmp_path):
    """No Asterisk event marks the end of a wrap-up or a rest: the log's timer does."""
    async with open_store(tmp_path / "d.sqlite3") as db:
        board = one_operator_board()
        log = OperatorLog(db, lambda: board, batch_s=0.05)
        board.on_change = log.observe
        async with log:
            now = time.time()
            board.apply_member(member(1, now))  # free
            ended = replace(member(1, now + 0.01), last_call=now + 0.01, wrapup_s=0.3)
            board.apply_member(ended)  # a queue call just ended: 0.3 s of wrap-up
            board.missed("101", now + 0.6)  # and then rests after missing a dialer call
            await asyncio.sleep(0.9)
        states = await states_of(db, "101")
    assert [s["state"] for s in states] == ["unknown", "free", "busy", "paused", "free"]
    assert states[2]["ended_at"] == pytest.approx(now + 0.31, abs=0.01)  # exactly at the end
    assert states[3]["ended_at"] == pytest.approx(now + 0.6, abs=0.01)
    assert all(s["ended_at"] is not None for s in states)


def one_operator_board():
    return OperatorBoard(
        [OperatorSettings(name="101", group="g", interface="Local/101@operators")],
        {"g": GroupSettings(queue="q", context="operators", exten="600")},
    )


def member(status, at):
    return MemberState("q", "Local/101@operators", "101", status, False, False, "", at)


async def test_a_change_storm_costs_a_few_transactions_and_loses_nothing(tmp_path):
    async with open_store(tmp_path / "d.sqlite3") as db:
        transactions = 0
        real = db.transaction

        def counted():
            nonlocal transactions
            transactions += 1
            return real()

        db.transaction = counted
        board = one_operator_board()
        log = OperatorLog(db, lambda: board, batch_s=0.2)
        board.on_change = log.observe
        async with log:
            start = time.time()
            for i in range(500):
                board.apply_member(member(1 if i % 2 == 0 else 2, start + i / 1000))
        db.transaction = real
        states = await states_of(db, "101")
    assert len(states) == 501  # 'unknown', then every change, none lost at the stop
    assert [s["state"] for s in states[1:3]] == ["free", "busy"]
    assert all(a["ended_at"] == b["started_at"] for a, b in zip(states, states[1:], strict=False))
    assert transactions <= 4  # crash cleanup, one or two batches, the closing one


async def test_the_heartbeat_advances_seen_until_of_the_open_row(tmp_path):
    async with open_store(tmp_path / "d.sqlite3") as db:
        board = one_operator_board()
        log = OperatorLog(db, lambda: board, batch_s=0.05, heartbeat_s=0.2)
        board.on_change = log.observe
        async with log:
            board.apply_member(member(1, time.time()))
            await asyncio.sleep(0.15)
            (first,) = await rows(
                db, "SELECT seen_until FROM operator_states WHERE ended_at IS NULL"
            )
            await asyncio.sleep(0.5)
            (later,) = await rows(db, "SELECT * FROM operator_states WHERE ended_at IS NULL")
    assert later["state"] == "free"
    assert later["seen_until"] - first["seen_until"] >= 0.3
