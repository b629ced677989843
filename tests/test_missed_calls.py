"""Missed inbound calls become callback leads: on the AMI simulator, through the real engine."""

import asyncio
import json
import time

import pytest
from structlog.testing import capture_logs

from dialerd.crm import outbox
from dialerd.missed_calls import NewMissedLead, RaisedLead, missed_call
from dialerd.pbx.events import MissedInbound
from dialerd.pbx.simulator import AmiSimulator
from dialerd.policy.missed import IgnoredCaller, caller_phone, ignore_reason
from dialerd.policy.phones import Phone
from dialerd.store import dnc
from dialerd.store import leads as store
from dialerd.testing.scenarios import pbx_config, running_engine

SECRET = "sim-secret"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("<unknown>", "anonymous"),
        ("anonymous", "anonymous"),
        ("", "anonymous"),
        ("101", "internal extension"),
        ("555010", "internal extension"),
        ("12345678901234", "caller id"),
        ("+7 abc", "caller id"),
    ],
)
def test_non_customers_are_ignored_with_the_reason(raw, why):
    with pytest.raises(IgnoredCaller, match=why):
        caller_phone(raw, "RU")


def test_a_caller_id_in_any_local_form_is_normalised():
    assert caller_phone("89161234567", "RU") == Phone("+79161234567")
    assert caller_phone("+79161234567", "RU") == Phone("+79161234567")


def test_own_calls_and_unwatched_queues_are_not_missed_calls():
    kw = {"enabled": True, "queue": "sales", "watched": [], "call_ids": ("171.1", "171.1")}
    assert ignore_reason(**kw) is None
    assert "dialerd placed" in ignore_reason(**{**kw, "call_ids": ("dialerd-4-1-ab;2", "x")})
    assert "not in missed_calls.queues" in ignore_reason(**{**kw, "watched": ["support"]})
    assert ignore_reason(**{**kw, "watched": ["sales"]}) is None
    assert "enabled is false" in ignore_reason(**{**kw, "enabled": False})


@pytest.fixture
async def sim():
    async with AmiSimulator(secret=SECRET, time_scale=10.0) as simulator:
        yield simulator


def config(tmp_path, sim, **dialing):
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, **dialing)


async def leads_where(db, sql="1", args=()):
    rows = await db.conn.execute_fetchall(f"SELECT * FROM leads WHERE {sql} ORDER BY id", args)
    return [dict(row) for row in rows]


async def until(check, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while not (result := await check()):
            await asyncio.sleep(0.03)
    return result


def dialed(sim):
    return [o.headers["Channel"].split("/")[1].split("@")[0] for o in sim.originates]


async def test_an_abandoned_caller_is_called_back_ahead_of_new_leads(tmp_path, sim):
    async with running_engine(config(tmp_path, sim, max_concurrent_calls=1)) as (engine, db, pbx):
        await pbx.connected.wait()
        # the only line is busy with a long call (3 s here)
        await store.insert_lead(db, store.NewLead(phone=Phone("+79161235001")), time.time())
        engine.wake()
        await until(lambda: asyncio.sleep(0, len(sim.originates) == 1))
        now = time.time()
        await store.insert_lead(
            db,
            store.NewLead(phone=Phone("+79161231002")),
            now,
            store.Placement(deadline_at=now + 900),
        )
        sim.emit_queue_abandon("89161231003", queue="sales", hold_s=40)
        (missed,) = await until(lambda: leads_where(db, "source = 'missed_call'"))
        await until(lambda: asyncio.sleep(0, len(sim.originates) == 3), timeout_s=15)
    assert dialed(sim) == ["79161235001", "79161231003", "79161231002"]
    assert missed["phone"] == "+79161231003" and missed["rank"] == 1
    assert missed["deadline_at"] == pytest.approx(missed["received_at"] + 300, abs=1)
    assert missed["comment"] == "missed call (abandoned in queue sales)"
    assert json.loads(missed["metadata"])["hold_s"] == 40


async def test_a_missed_call_raises_the_open_lead_of_that_phone(tmp_path, sim):
    async with running_engine(config(tmp_path, sim)) as (engine, db, pbx):
        await pbx.connected.wait()
        now = time.time()
        agreed = store.NewLead(phone=Phone("+79161231004"), callback_at=now + 86400)
        lead_id = await store.insert_lead(db, agreed, now, store.Placement(rank=3))
        await db.conn.execute(
            "UPDATE leads SET attempts = 2, first_attempt_at = ? WHERE id = ?", (now, lead_id)
        )
        sim.emit_user_event("DialerdMissedCall", "+7 916 123-10-04")  # the dialplan's report
        await until(lambda: asyncio.sleep(0, bool(sim.originates)))
        await until(lambda: leads_where(db, "id = ? AND state != 'dialing'", (lead_id,)))
        (lead,) = await leads_where(db)
    assert dialed(sim) == ["79161231004"]  # called back now, not tomorrow
    assert lead["id"] == lead_id and lead["attempts"] == 3 and lead["source"] == "api"


async def test_unknown_internal_and_own_callers_make_no_lead(tmp_path, sim):
    with capture_logs() as logs:
        async with running_engine(config(tmp_path, sim)) as (_engine, db, pbx):
            await pbx.connected.wait()
            sim.emit_queue_abandon("<unknown>")
            sim.emit_queue_abandon("102")
            sim.emit_queue_abandon("79161231005", uniqueid="dialerd-7-1-0a0b0c0d")  # our own call
            sim.emit_user_event("OperatorAnswered", "79161231006")  # another user event
            sim.emit_queue_abandon("79161231007")  # then a real one
            await until(lambda: leads_where(db))
            leads = await leads_where(db)
    assert [lead["phone"] for lead in leads] == ["+79161231007"]
    ignored = [e["why"] for e in logs if e["event"] == "missed_call_ignored"]
    assert len(ignored) == 3
    assert "anonymous caller" in ignored[0] and "internal extension" in ignored[1]
    assert "dialerd placed" in ignored[2]


def missed(caller, queue="sales"):
    return MissedInbound(caller, queue, "abandoned", "1795.7", "1795.7", 8.0, time.time())


async def test_a_number_on_the_dnc_list_is_stored_closed_and_reported(db, make_config):
    settings = make_config().settings
    await dnc.add(db, "+7916", None, time.time())
    result = await missed_call(db, missed("+79161231008"), settings, time.time())
    assert isinstance(result, NewMissedLead) and result.closed_as == "dnc"
    (message,) = await outbox.messages(db)
    assert message["lead_id"] == result.lead_id and '"result":"dnc"' in message["payload"]


async def test_a_lead_being_dialed_is_left_alone(db, make_config):
    settings = make_config().settings
    now = time.time()
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone("+79161231009")), now)
    await db.conn.execute(
        "UPDATE leads SET state = 'dialing', due_at = ? WHERE id = ?", (now - 5, lead_id)
    )
    before = await store.get_lead(db, lead_id)
    result = await missed_call(db, missed("89161231009"), settings, now)
    assert result == RaisedLead(lead_id, being_dialed=True)
    assert await store.get_lead(db, lead_id) == before
    assert len(await store.list_leads(db)) == 1


async def test_a_disabled_or_unwatched_queue_stores_nothing(db, make_config):
    for settings in (
        make_config(missed_calls={"enabled": False}).settings,
        make_config(missed_calls={"queues": ["support"]}).settings,
    ):
        with pytest.raises(IgnoredCaller):
            await missed_call(db, missed("+79161231010"), settings, time.time())
    assert await store.list_leads(db) == []
