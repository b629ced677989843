"""Missed inbound calls become callback leads: on the AMI simulator, through the real engine."""

import asyncio
import json
import time

import pytest
from structlog.testing import capture_logs
from support.observer import AmiObserver
from support.scenarios import add_leads, pbx_config, running_engine

from dialerd.intake.missed import NewMissedLead, RaisedLead, missed_call
from dialerd.pbx.events import MissedInbound
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.missed import (
    DialerCall,
    IgnoredCaller,
    call_id_candidates,
    caller_phone,
    ignore_reason,
    placed_by_a_dialer,
)
from dialerd.policy.phones import Phone
from dialerd.store import dnc, outbox
from dialerd.store import leads as store

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


def test_unwatched_queues_and_a_disabled_feature_make_no_missed_calls():
    kw = {"enabled": True, "queue": "sales", "watched": []}
    assert ignore_reason(**kw) is None
    assert "not in missed_calls.queues" in ignore_reason(**{**kw, "watched": ["support"]})
    assert ignore_reason(**{**kw, "watched": ["sales"]}) is None
    assert "enabled is false" in ignore_reason(**{**kw, "enabled": False})


def test_the_call_ids_a_dialer_call_can_show():
    """The originated channel's Uniqueid and Linkedid are the ChannelId; a Local channel's
    ``;2`` half is ``ChannelId;2``."""
    assert call_id_candidates("dialerd-4-1-ab;2", "dialerd-4-1-ab") == (
        "dialerd-4-1-ab;2",
        "dialerd-4-1-ab",
    )
    assert call_id_candidates("1795.7", "1795.3") == ("1795.7", "1795.3")
    assert placed_by_a_dialer(("dialerd-4-1-ab;2",))
    assert not placed_by_a_dialer(("1795.7", "1795.3"))


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


async def test_unknown_and_internal_callers_make_no_lead(tmp_path, sim):
    with capture_logs() as logs:
        async with running_engine(config(tmp_path, sim)) as (_engine, db, pbx):
            await pbx.connected.wait()
            sim.emit_queue_abandon("<unknown>")
            sim.emit_queue_abandon("102")
            sim.emit_user_event("OperatorAnswered", "79161231006")  # another user event
            sim.emit_queue_abandon("79161231007")  # then a real one
            await until(lambda: leads_where(db))
            leads = await leads_where(db)
    assert [lead["phone"] for lead in leads] == ["+79161231007"]
    ignored = [e["why"] for e in logs if e["event"] == "missed_call_ignored"]
    assert len(ignored) == 2
    assert "anonymous caller" in ignored[0] and "internal extension" in ignored[1]


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


async def attempt_with_call_id(db, phone, call_id):
    """A lead and its attempt as the engine's claim writes them."""
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone(phone)), time.time())
    await db.conn.execute(
        "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, status,"
        " created_at, mode) VALUES (?, 1, ?, ?, 'default', ?, 'done', ?, 'customer_first')",
        (lead_id, call_id, f"orig-{call_id}", phone, time.time()),
    )
    return lead_id


@pytest.mark.parametrize(
    ("uniqueid", "linkedid"),
    [
        ("{id}", "{id}"),  # the originated channel itself
        ("{id};2", "{id}"),  # the ;2 half of a Local channel
        ("1795.12", "{id}"),  # a channel of the same call, linked to ours
    ],
    ids=["uniqueid", "local-half", "linkedid"],
)
@pytest.mark.parametrize(
    "call_id", ["dialerd-7-1-0a0b0c0d", "1795.9"], ids=["dialerd-id", "any-stored-id"]
)
async def test_an_abandoned_dialer_call_is_not_a_missed_call(
    db, make_config, uniqueid, linkedid, call_id
):
    """Our customer who hung up waiting in the queue: its attempt records the abandon."""
    settings = make_config().settings
    await attempt_with_call_id(db, "+79161231011", call_id)
    before = await leads_where(db)
    event = MissedInbound(
        "<unknown>",  # our own channel may carry no caller id: still our call, not "anonymous"
        "sales",
        "abandoned",
        uniqueid.format(id=call_id),
        linkedid.format(id=call_id),
        3.0,
        time.time(),
    )
    with pytest.raises(DialerCall):
        await missed_call(db, event, settings, time.time())
    assert await leads_where(db) == before
    assert issubclass(DialerCall, IgnoredCaller)  # an engine that knows only IgnoredCaller copes


async def test_a_dialer_id_unknown_to_this_store_is_still_a_dialer_call(db, make_config):
    """Another dialerd on the same Asterisk (its own store) placed it: an outbound call too."""
    settings = make_config().settings
    own = "dialerd-9-2-ffff0000"
    event = MissedInbound("+79161231012", "sales", "abandoned", own, own, 3.0, time.time())
    with pytest.raises(DialerCall):
        await missed_call(db, event, settings, time.time())
    assert await store.list_leads(db) == []


@pytest.fixture
async def queue_sim():
    """customer_first: an answered customer waits in queue ``sales`` for operator 101."""
    rule = lambda _number: SimOutcome("answer", ring_s=0.5, talk_s=1.0, patience_s=1.0)  # noqa: E731
    async with AmiSimulator(secret=SECRET, time_scale=1.0, rule=rule) as simulator:
        simulator.add_member("sales", "Local/101@operators", "Operator 101")
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


async def test_our_customer_abandoning_in_the_queue_is_no_missed_call_and_no_noise(
    tmp_path, queue_sim
):
    sim = queue_sim
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [{"name": "101", "group": "sales", "interface": "Local/101@operators"}],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
    }
    loaded = pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)
    observer = AmiObserver("127.0.0.1", sim.port, sim.username, SECRET)
    with capture_logs() as logs:
        async with observer, running_engine(loaded) as (engine, db, pbx):
            await pbx.connected.wait()
            await until(lambda: asyncio.sleep(0, engine.operators.free_count(time.time()) == 1))
            await add_leads(db, ["+79161231013"])
            engine.wake()
            await until(lambda: asyncio.sleep(0, len(sim.originates) == 1))
            # while our customer's phone rings, the operator takes another call: the answered
            # customer waits in the queue with nobody free, and hangs up there
            sim.set_member("Local/101@operators", status=2)
            attempts = await until(
                lambda: db.conn.execute_fetchall(
                    "SELECT call_id, outcome FROM attempts WHERE outcome IS NOT NULL"
                )
            )
            inbound = sim.emit_queue_abandon("79161231014")  # a real inbound caller abandons
            (lead,) = await until(lambda: leads_where(db, "source = 'missed_call'"))
            await until(lambda: asyncio.sleep(0, len(observer.named("QueueCallerAbandon")) == 2))
    ((call_id, outcome),) = attempts
    assert outcome == "abandoned"
    abandons = [seen.frame["Uniqueid"] for seen in observer.named("QueueCallerAbandon")]
    assert abandons == [call_id, inbound]  # Asterisk's view: ours, then the inbound caller
    assert lead["phone"] == "+79161231014"  # only the inbound caller became a callback lead
    assert [e for e in logs if e["event"] == "missed_call_ignored"] == []
