"""The dialer's wrap-up after an answered call (issue 12): what the operator, Asterisk and the
reports notice, on the real engine and AMI adapter over the simulator; and an operator
outside any queue, whose wrap-up only the dialer keeps."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs
from support.scenarios import add_leads, pbx_config, running_engine, wait_until_settled

from dialerd.config import load_config
from dialerd.dialer.board import OperatorBoard, OperatorState
from dialerd.dialer.operator_sync import OperatorSync
from dialerd.dialer.pauses import Pauses, WrapupHeld
from dialerd.dialer.wrapup import Wrapups
from dialerd.domain import FinishedCall, Outcome
from dialerd.pbx.actions import QueuePauseRequest
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.events import DeviceState
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.store import sql
from dialerd.store.sql import open_configured
from dialerd.web.presence import Presence, view_of

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"
ANNA = "Local/101@operators"


@pytest.fixture
async def sim():
    rule = lambda number: SimOutcome("answer", talk_s=0.5)  # noqa: E731
    async with AmiSimulator(secret=SECRET, rule=rule) as simulator:
        simulator.add_member("sales", ANNA, "Operator 101")
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def sim_config(tmp_path, sim, after_call_work_s: float, names=("101",), **group):
    sales = {"queue": "sales", "context": "operators", "exten": "600", **group}
    extra = {
        "groups": {"sales": {**sales, "after_call_work_s": after_call_work_s}},
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in names
        ],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


def in_asterisk(sim: AmiSimulator) -> tuple[bool, str]:
    (member,) = [m for m in sim.members if m.interface == ANNA]
    return member.paused, member.paused_reason


async def until(check, timeout_s: float = 5.0):
    async with asyncio.timeout(timeout_s):
        while not (result := check()):
            await asyncio.sleep(0.02)
    return result


async def attempts_of(db) -> list[tuple]:
    rows = await sql.rows(
        db.conn, "SELECT lead_id, operator, outcome, created_at, ended_at FROM attempts ORDER BY id"
    )
    return [tuple(row) for row in rows]


async def operator_rows(loaded) -> list[tuple[str, str | None]]:
    async with open_configured(loaded.settings.store) as db:
        rows = await sql.rows(
            db.conn, "SELECT state, reason FROM operator_states WHERE operator = '101' ORDER BY id"
        )
    return [tuple(row) for row in rows]


# --- a queue member: paused in Asterisk with 'wrap-up' -------------------------------------


async def test_after_an_answered_call_the_operator_wraps_up_until_ready(tmp_path, sim):
    loaded = sim_config(tmp_path, sim, after_call_work_s=60)
    async with running_engine(loaded) as (engine, db, pbx):
        anna = engine.operators.operators["101"]
        await until(lambda: anna.is_free(time.time()))
        first, second = await add_leads(db, ["+79161231001", "+79161231002"])
        engine.wake()
        await wait_until_settled(db, [first])

        # Asterisk's own QueueStatus, asked over AMI: paused, reason wrap-up
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))
        (listed,) = [m for m in await pbx.queue_members() if m.interface == ANNA]
        assert (listed.paused, listed.paused_reason) == (True, "wrap-up")
        await until(lambda: anna.state is OperatorState.PAUSED)
        now = time.time()
        ((_, _, _, _, ended_at),) = await attempts_of(db)
        view = view_of(anna, now)  # the console: wrap-up with its countdown, not "paused"
        assert (view.presence, view.wrapup_until, view.pause_reason) == (
            Presence.WRAPUP,
            pytest.approx(ended_at + 60),
            None,
        )
        assert (anna.effective(now), anna.pause_reason) == (OperatorState.BUSY, None)
        shown = engine.operators.snapshot(now, connected={"default": True})["operators"][0]
        assert shown["state"] == "wrap-up" and "after a dialer call" in shown["detail"]

        await asyncio.sleep(1.0)
        assert len(await attempts_of(db)) == 1  # the next customer waits for her

        engine.operator_ready("101")
        await until(lambda: in_asterisk(sim) == (False, ""))
        await wait_until_settled(db, [second])
        one, two = await attempts_of(db)
        assert [(a[1], a[2]) for a in (one, two)] == [("101", "answered"), ("101", "answered")]
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))  # her second wrap-up
    assert in_asterisk(sim) == (False, "")  # a stop ends the wrap-up in Asterisk too
    # wrap-up is work: busy from the call to its end, never a pause in the reports
    assert await operator_rows(loaded) == [
        ("unknown", None),
        ("free", None),
        ("busy", None),
        ("free", None),
        ("busy", None),
    ]


async def test_the_wrap_up_ends_by_itself_after_after_call_work_s(tmp_path, sim):
    loaded = sim_config(tmp_path, sim, after_call_work_s=1.5)
    async with running_engine(loaded) as (engine, db, _pbx):
        await until(lambda: engine.operators.free_count(time.time()) == 1)
        leads = await add_leads(db, ["+79161231001", "+79161231002"])
        engine.wake()
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))
        await until(lambda: in_asterisk(sim) == (False, ""))  # no event, no click: the timer
        await wait_until_settled(db, leads)
        one, two = await attempts_of(db)
        assert two[3] >= one[4] + 1.5  # dialed only once her wrap-up was over


async def test_a_result_ends_the_wrap_up_through_ready_and_asterisks_own_wrapuptime_stays(
    tmp_path, sim
):
    """A queue wrapuptime (``wrapup_s``) as well: "ready" ends the dialer's wrap-up (the
    member is unpaused) but Asterisk's own still holds her, and she is told so."""
    loaded = sim_config(tmp_path, sim, after_call_work_s=60, wrapup_s=30)
    async with running_engine(loaded) as (engine, db, _pbx):
        anna = engine.operators.operators["101"]
        await until(lambda: anna.is_free(time.time()))
        (lead,) = await add_leads(db, ["+79161231001"])
        engine.wake()
        await wait_until_settled(db, [lead])
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))
        with pytest.raises(WrapupHeld, match="kept by Asterisk's queue sales"):
            engine.operator_ready("101")
        await until(lambda: in_asterisk(sim) == (False, ""))
        await until(lambda: anna.state is OperatorState.FREE)
        assert anna.after_call is None and not anna.is_free(time.time())
        assert view_of(anna, time.time()).presence is Presence.WRAPUP  # the queue's, 30 s


async def test_an_operators_own_pause_outlives_the_wrap_up(tmp_path, sim):
    loaded = sim_config(tmp_path, sim, after_call_work_s=1)
    async with running_engine(loaded) as (engine, db, _pbx):
        anna = engine.operators.operators["101"]
        await until(lambda: anna.is_free(time.time()))
        (first,) = await add_leads(db, ["+79161231001"])
        engine.wake()
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))
        await engine.pause_operator("101", "lunch")  # lunch, right after the call
        assert in_asterisk(sim) == (True, "lunch")
        (second,) = await add_leads(db, ["+79161231002"])
        engine.wake()
        await asyncio.sleep(2.0)  # well past her wrap-up
        assert in_asterisk(sim) == (True, "lunch")
        view = view_of(anna, time.time())
        assert (view.presence, view.pause_reason) == (Presence.PAUSED, "lunch")
        assert len(await attempts_of(db)) == 1
        await engine.resume_operator("101")
        await wait_until_settled(db, [second])

    assert ("paused", "lunch") in await operator_rows(loaded)


async def test_a_supervisors_pause_during_the_wrap_up_is_not_undone_by_its_end(tmp_path, sim):
    loaded = sim_config(tmp_path, sim, after_call_work_s=1)
    async with running_engine(loaded) as (engine, db, pbx):
        anna = engine.operators.operators["101"]
        await until(lambda: anna.is_free(time.time()))
        (lead,) = await add_leads(db, ["+79161231001"])
        engine.wake()
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))
        # another console (or `queue pause member`) pauses her in Asterisk itself
        await pbx.queue_pause(QueuePauseRequest(ANNA, True, "coaching", "sales"))
        await until(lambda: anna.pause_reason == "coaching")
        await asyncio.sleep(1.5)  # past her wrap-up
        assert in_asterisk(sim) == (True, "coaching")
        assert anna.after_call is None and not anna.is_free(time.time())

        await pbx.queue_pause(QueuePauseRequest(ANNA, False, None, "sales"))  # back at her desk
        (second,) = await add_leads(db, ["+79161231002"])
        engine.wake()
        await wait_until_settled(db, [lead, second])
        await until(lambda: in_asterisk(sim) == (True, "wrap-up"))  # her next wrap-up as ever


async def test_an_operator_who_paused_during_the_call_stays_paused_after_it(tmp_path):
    rule = lambda number: SimOutcome("answer", talk_s=1.5)  # noqa: E731
    async with AmiSimulator(secret=SECRET, rule=rule) as sim:
        sim.add_member("sales", ANNA, "Operator 101")
        sim.route_to_queue("operators", "600", "sales")
        loaded = sim_config(tmp_path, sim, after_call_work_s=60)
        async with running_engine(loaded) as (engine, db, _pbx):
            anna = engine.operators.operators["101"]
            await until(lambda: anna.is_free(time.time()))
            (lead,) = await add_leads(db, ["+79161231001"])
            engine.wake()
            await until(lambda: anna.engaged_by is not None)
            with capture_logs() as logs:
                await engine.pause_operator("101", "training")
                await wait_until_settled(db, [lead])
                await asyncio.sleep(0.3)
            assert in_asterisk(sim) == (True, "training")
            assert anna.after_call is None
            assert [e["why"] for e in logs if e["event"] == "wrapup_skipped"] == ["paused"]


async def test_a_member_a_restart_left_paused_with_wrap_up_is_unpaused_at_start(tmp_path, sim):
    sim.add_member("sales", "Local/102@operators", "Operator 102")
    sim.set_member(ANNA, paused=True, reason="wrap-up")  # what a killed daemon leaves
    sim.set_member("Local/102@operators", paused=True, reason="lunch")
    loaded = sim_config(tmp_path, sim, after_call_work_s=60, names=("101", "102"))
    with capture_logs() as logs:
        async with running_engine(loaded) as (engine, _db, _pbx):
            await until(lambda: in_asterisk(sim) == (False, ""))
            await until(lambda: engine.operators.operators["101"].is_free(time.time()))
            (ben,) = [m for m in sim.members if m.interface == "Local/102@operators"]
            assert (ben.paused, ben.paused_reason) == (True, "lunch")  # his own: kept
    cleared = [e for e in logs if e["event"] == "stale_wrapup_pause_cleared"]
    assert [(e["operator"], e["queue"]) for e in cleared] == [("101", "sales")]


# --- an operator outside any queue: the dialer's board only ---------------------------------


def desk(after_call_work_s: float):
    return load_config(
        None,
        overrides={
            "groups": {"desk": {"after_call_work_s": after_call_work_s}},
            "operators": [{"name": "anna", "group": "desk", "device": "PJSIP/201"}],
            "campaigns": {"default": {"mode": "agent_first", "group": "desk"}},
        },
    ).settings


def answered(operator: str, ended_at: float, outcome: Outcome = Outcome.ANSWERED):
    return FinishedCall(
        1, 1, "c-1", outcome, 4, 16, ended_at - 30, ended_at, 5.0, 30.0, operator=operator
    )


def desk_parts(after_call_work_s: float):
    settings = desk(after_call_work_s)
    board = OperatorBoard.from_settings(settings)
    board.apply_snapshot([], [DeviceState("PJSIP/201", "NOT_INUSE", 10.0)], 10.0)
    pbx = AmiPbx(settings.ami, "secret")  # never connected: nothing to tell Asterisk
    wakes: list[None] = []
    wrapups = Wrapups(
        lambda: board, lambda: settings, pbx, clock=time.time, wake=lambda: wakes.append(None)
    )
    pauses = Pauses(lambda: board, lambda: settings, pbx, wrapups, clock=time.time, wake=lambda: 0)
    return board, wrapups, pauses, wakes


def test_outside_any_queue_the_dialer_keeps_the_wrap_up_and_ready_ends_it():
    board, wrapups, pauses, _ = desk_parts(after_call_work_s=30)
    anna = board.operators["anna"]
    ended = time.time() - 5
    wrapups.begin(answered("anna", ended))
    now = time.time()
    assert board.free("desk", now) == []
    assert anna.effective(now) is OperatorState.BUSY
    assert board.next_release(now) == pytest.approx(ended + 30)  # the dial loop wakes then
    assert view_of(anna, now).wrapup_until == pytest.approx(ended + 30)
    pauses.ready("anna")  # agent_first, no queue: never WrapupHeld
    assert [op.name for op in board.free("desk", time.time())] == ["anna"]


def test_the_wrap_up_runs_out_at_its_deadline():
    board, wrapups, _, wakes = desk_parts(after_call_work_s=30)
    ended = time.time() - 5
    wrapups.begin(answered("anna", ended))
    assert wrapups.deadline() == pytest.approx(ended + 30)
    wrapups.expire(ended + 29)
    assert board.free("desk", ended + 29) == [] and wakes == []
    wrapups.expire(ended + 30)
    assert wrapups.deadline() is None and len(wakes) == 1
    assert [op.name for op in board.free("desk", ended + 30)] == ["anna"]


@pytest.mark.parametrize(
    ("after_call_work_s", "outcome", "ended_ago_s"),
    [
        (0, Outcome.ANSWERED, 1),  # off
        (30, Outcome.NO_ANSWER, 1),  # no conversation, nothing to wrap up
        (30, Outcome.ANSWERED, 45),  # recorded late (after a restart): already over
    ],
)
def test_no_wrap_up_without_a_conversation_or_a_length(after_call_work_s, outcome, ended_ago_s):
    board, wrapups, _, _ = desk_parts(after_call_work_s)
    wrapups.begin(answered("anna", time.time() - ended_ago_s, outcome))
    assert board.operators["anna"].after_call is None
    assert [op.name for op in board.free("desk", time.time())] == ["anna"]


async def test_a_pause_during_the_wrap_up_takes_it_over():
    board, wrapups, pauses, _ = desk_parts(after_call_work_s=30)
    wrapups.begin(answered("anna", time.time()))
    await pauses.pause("anna", "lunch")
    anna = board.operators["anna"]
    assert (anna.after_call, anna.pause_reason) == (None, "lunch")
    await pauses.resume("anna")
    assert [op.name for op in board.free("desk", time.time())] == ["anna"]


async def test_a_reload_that_makes_a_new_board_keeps_the_wrap_up():
    settings = desk(after_call_work_s=30)
    pbx = AmiPbx(settings.ami, "secret")
    sync = OperatorSync(settings, pbx, clock=time.time, on_change=None, wake=lambda: None)
    wrapups = Wrapups(lambda: sync.board, lambda: settings, pbx, clock=time.time, wake=lambda: None)
    wrapups.begin(answered("anna", time.time()))
    before = sync.board.operators["anna"].after_call
    ben = {"name": "ben", "group": "desk", "device": "PJSIP/202"}
    grown = load_config(
        None,
        overrides={
            "groups": {"desk": {"after_call_work_s": 30}},
            "operators": [{"name": "anna", "group": "desk", "device": "PJSIP/201"}, ben],
            "campaigns": {"default": {"mode": "agent_first", "group": "desk"}},
        },
    ).settings
    old = sync.board
    sync.reload(grown, [])
    assert sync.board is not old and sync.board.operators["anna"].after_call == before
    await sync.close()
