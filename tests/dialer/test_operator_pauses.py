"""Operators pause with a reason, resume, and end their wrap-up early (issue 12): what the
operator and Asterisk notice, on the real engine and AMI adapter over the simulator, and
the board's rules on their own."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.scenarios import add_leads, pbx_config, running_engine, wait_until_settled

from dialerd.config import load_config
from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.dialer.board import OperatorBoard, OperatorState
from dialerd.dialer.engine import Engine
from dialerd.dialer.pauses import (
    PauseRefused,
    PbxUnavailable,
    UnknownOperator,
    UnknownReason,
    WrapupHeld,
)
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.events import DeviceState, MemberState
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.store import sql
from dialerd.store.sql import open_configured

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"
SALES = {"sales": {"queue": "sales", "context": "operators", "exten": "600"}}


def queue_operators(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "group": "sales", "interface": f"Local/{n}@operators"} for n in names]


@pytest.fixture
async def sim():
    rule = lambda number: SimOutcome("answer", talk_s=0.5)  # noqa: E731
    async with AmiSimulator(secret=SECRET, rule=rule) as simulator:
        for name in ("101", "102"):
            simulator.add_member("sales", f"Local/{name}@operators", f"Operator {name}")
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def sim_config(tmp_path, sim, *names: str):
    extra = {
        "groups": SALES,
        "operators": queue_operators(*names),
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def until(check, timeout_s: float = 5.0):
    async with asyncio.timeout(timeout_s):
        while not (result := check()):
            await asyncio.sleep(0.02)
    return result


def in_asterisk(sim: AmiSimulator, name: str) -> tuple[bool, str]:
    (member,) = [m for m in sim.members if m.interface == f"Local/{name}@operators"]
    return member.paused, member.paused_reason


# --- a queue member: paused in Asterisk ----------------------------------------------------


async def test_a_paused_member_is_paused_in_asterisk_and_offered_no_call_until_resumed(
    tmp_path, sim
):
    loaded = sim_config(tmp_path, sim, "101", "102")
    async with running_engine(loaded) as (engine, db, pbx):
        board = engine.operators
        await until(lambda: board.free_count(time.time()) == 2)
        await engine.pause_operator("101", "lunch")
        anna = board.operators["101"]
        assert not anna.is_free(time.time())  # at once, before Asterisk's event is in
        assert anna.pause_reason == "lunch"
        # Asterisk's own QueueStatus, asked over AMI
        listed = {m.interface: m for m in await pbx.queue_members()}
        assert (
            listed["Local/101@operators"].paused,
            listed["Local/101@operators"].paused_reason,
        ) == (
            True,
            "lunch",
        )
        await until(lambda: anna.state is OperatorState.PAUSED and anna.held_pause is None)
        assert anna.detail == "paused in queue sales: lunch"

        lead_ids = await add_leads(db, ["+79161231001", "+79161231002"])
        engine.wake()
        await wait_until_settled(db, lead_ids, timeout_s=15)
        attempts = await sql.rows(
            db.conn, "SELECT operator, outcome, created_at, ended_at FROM attempts ORDER BY id"
        )
        assert [tuple(a[:2]) for a in attempts] == [("102", "answered"), ("102", "answered")]
        first, second = attempts
        assert second["created_at"] >= first["ended_at"]  # one free operator: one call at a time

        await engine.pause_operator("101", "training")  # a new reason while paused
        await until(lambda: anna.pause_reason == "training" and anna.held_pause is None)
        await engine.resume_operator("101")
        assert in_asterisk(sim, "101") == (False, "")
        await until(lambda: anna.is_free(time.time()))
        assert anna.pause_reason is None
    async with open_configured(loaded.settings.store) as db:
        rows = await sql.rows(
            db.conn, "SELECT state, reason FROM operator_states WHERE operator = '101' ORDER BY id"
        )
    assert [tuple(row) for row in rows] == [
        ("unknown", None),
        ("free", None),
        ("paused", "lunch"),
        ("paused", "training"),
        ("free", None),
    ]


async def test_a_member_asterisk_does_not_know_is_refused_and_stays_free(tmp_path, sim):
    sim.members = [m for m in sim.members if m.interface != "Local/102@operators"]
    sim.add_member("support", "Local/102@operators")  # in another queue than the group's
    loaded = sim_config(tmp_path, sim, "101", "102")
    async with running_engine(loaded) as (engine, _db, _pbx):
        await until(lambda: engine.operators.synced)
        with pytest.raises(PauseRefused, match="Interface not found"):
            await engine.pause_operator("102", "lunch")
        assert engine.operators.operators["102"].held_pause is None
        assert in_asterisk(sim, "102") == (False, "")


async def test_unknown_operators_and_reasons_are_refused_before_anything_is_sent(tmp_path, sim):
    loaded = sim_config(tmp_path, sim, "101", "102")
    async with running_engine(loaded) as (engine, _db, _pbx):
        await until(lambda: engine.operators.synced)
        with pytest.raises(UnknownOperator, match="no operator named 'nobody'"):
            await engine.pause_operator("nobody", "lunch")
        with pytest.raises(UnknownReason, match=r"'nap' \(one of: break, lunch, training\)"):
            await engine.pause_operator("101", "nap")
        with pytest.raises(UnknownOperator):
            await engine.resume_operator("nobody")
        with pytest.raises(UnknownOperator):
            engine.operator_ready("nobody")
    assert in_asterisk(sim, "101") == (False, "")


async def test_with_asterisk_unreachable_a_queue_member_cannot_pause(tmp_path, db):
    settings = load_config(
        None,
        overrides={
            "groups": {**SALES, "desk": {}},
            "operators": [
                *queue_operators("101"),
                {"name": "anna", "group": "desk", "device": "PJSIP/201"},
            ],
        },
    ).settings
    engine = Engine(settings, db, AmiPbx(settings.ami, "secret"))  # never connected
    with pytest.raises(PbxUnavailable, match="not connected"):
        await engine.pause_operator("101", "lunch")
    assert engine.operators.operators["101"].held_pause is None
    await engine.pause_operator("anna", "lunch")  # outside any queue: the dialer's own pause
    assert engine.operators.operators["anna"].pause_reason == "lunch"


# --- an operator outside any queue: paused on the dialer's board ----------------------------


def desk_settings(*, mode: str = "agent_first", names: tuple[str, ...] = ("anna", "ben")):
    devices = {"anna": "PJSIP/201", "ben": "PJSIP/202"}
    return load_config(
        None,
        overrides={
            "groups": {"desk": {}},
            "operators": [{"name": n, "group": "desk", "device": devices[n]} for n in names],
            "campaigns": {"default": {"mode": mode, "group": "desk"}},
        },
    ).settings


async def test_an_operator_outside_any_queue_is_paused_by_the_dialer_and_kept_over_a_reload(db):
    settings = desk_settings()
    engine = Engine(settings, db, AmiPbx(settings.ami, "secret"))
    board = engine.operators
    board.apply_snapshot(
        [],
        [DeviceState("PJSIP/201", "NOT_INUSE", 10.0), DeviceState("PJSIP/202", "NOT_INUSE", 10.0)],
        10.0,
    )
    await engine.pause_operator("anna", "training")
    now = time.time()
    assert [op.name for op in board.free("desk", now)] == ["ben"]
    anna = board.operators["anna"]
    assert (anna.effective(now), anna.pause_reason) == (OperatorState.PAUSED, "training")
    shown = board.snapshot(now, connected={"default": True})["operators"][0]
    assert (shown["state"], shown["pause_reason"]) == ("paused", "training")
    assert shown["detail"] == "paused (no queue: kept by the dialer): training"
    board.apply_device(DeviceState("PJSIP/201", "INUSE", now))  # an inbound call to her phone
    board.apply_device(DeviceState("PJSIP/201", "NOT_INUSE", now))
    assert not anna.is_free(now)  # still paused: Asterisk knows nothing of it

    engine.reload(desk_settings(names=("anna",)))  # ben left: a new board
    assert engine.operators is not board
    assert engine.operators.operators["anna"].pause_reason == "training"

    await engine.resume_operator("anna")
    engine.operators.apply_device(DeviceState("PJSIP/201", "NOT_INUSE", now))
    assert engine.operators.operators["anna"].is_free(time.time())


# --- the board's rules ---------------------------------------------------------------------


def member(name: str, *, paused: bool = False, reason: str = "", at: float = 10.0, **kw):
    return MemberState("sales", f"Local/{name}@operators", name, 1, paused, False, reason, at, **kw)


def sales_board(wrapup_s: float = 0.0) -> OperatorBoard:
    return OperatorBoard(
        [OperatorSettings(name="101", group="sales", interface="Local/101@operators")],
        {"sales": GroupSettings(queue="sales", wrapup_s=wrapup_s)},
    )


def test_a_held_pause_gives_way_to_asterisks_word_and_to_a_lost_link():
    b = sales_board()
    b.apply_snapshot([member("101")], [], 10.0)
    b.hold_pause("101", "lunch", 11.0)
    op = b.operators["101"]
    assert (op.is_free(11.0), op.effective(11.0), op.pause_reason) == (
        False,
        OperatorState.PAUSED,
        "lunch",
    )
    b.apply_member(member("101", paused=True, reason="lunch", at=11.1))
    assert (op.held_pause, op.state, op.pause_reason) == (None, OperatorState.PAUSED, "lunch")
    b.hold_pause("101", "break", 12.0)
    b.invalidate("AMI connection lost", 12.1)  # QueueStatus will say whether it took
    assert op.held_pause is None and op.state is OperatorState.UNKNOWN
    b.apply_snapshot([member("101", paused=True, reason="break", at=13.0)], [], 13.0)
    assert op.pause_reason == "break"


def test_ready_ends_a_wrap_up_and_the_same_call_does_not_bring_it_back():
    b = sales_board(wrapup_s=30)
    b.apply_snapshot([member("101", last_call=100.0, at=100.0)], [], 100.0)
    assert not b.operators["101"].is_free(110.0)
    assert b.ready("101", 110.0) is True
    assert b.operators["101"].is_free(110.0)
    b.apply_member(member("101", last_call=100.0, at=111.0))  # any event repeats LastCall
    assert b.operators["101"].is_free(111.0)
    b.apply_member(member("101", last_call=200.0, at=200.0))  # the next call's wrap-up holds
    assert not b.operators["101"].is_free(210.0)


def agent_first_on_a_queue(mode: str):
    return load_config(
        None,
        overrides={
            "groups": {"sales": {"queue": "sales", "wrapup_s": 30}},
            "operators": queue_operators("101"),
            "campaigns": {"default": {"mode": mode, "group": "sales"}},
        },
    ).settings


async def test_ready_frees_an_agent_first_operator_at_once(db):
    settings = agent_first_on_a_queue("agent_first")
    engine = Engine(settings, db, AmiPbx(settings.ami, "secret"))
    ended = time.time() - 5
    engine.operators.apply_snapshot([member("101", last_call=ended, at=ended)], [], ended)
    assert not engine.operators.operators["101"].is_free(time.time())
    engine.operator_ready("101")
    assert [op.name for op in engine.operators.free("sales", time.time())] == ["101"]
    engine.operator_ready("101")  # again: nothing left to end


async def test_ready_is_refused_while_asterisks_queue_keeps_the_wrap_up(db):
    """customer_first sends the customer through the queue, which will not ring the
    operator before its wrapuptime ends: counting her free would abandon a customer."""
    settings = agent_first_on_a_queue("customer_first")
    engine = Engine(settings, db, AmiPbx(settings.ami, "secret"))
    ended = time.time() - 5
    engine.operators.apply_snapshot([member("101", last_call=ended, at=ended)], [], ended)
    with pytest.raises(WrapupHeld, match="kept by Asterisk's queue sales") as held:
        engine.operator_ready("101")
    assert 20 < held.value.left_s <= 25
    assert not engine.operators.operators["101"].is_free(time.time())
