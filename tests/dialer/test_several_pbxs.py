"""One daemon, two PBXs (two AMI simulators), one store: every lead dialed once, calls
spread by free lines, and each PBX's calls settled on that PBX only (after its AMI link
went away, and after the daemon restarted with calls live on both)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs
from support.scenarios import SANDBOX_DIALING, add_leads, fast_ami, fleet_dialing

from dialerd.config import LoadedConfig, load_config
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store.db import Database, open_store

SECRET = "sim-secret"
TIME_SCALE = 10.0  # simulated seconds per real second


@pytest.fixture
async def east() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET, time_scale=TIME_SCALE) as sim:
        yield sim


@pytest.fixture
async def west() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET, time_scale=TIME_SCALE) as sim:
        yield sim


def two_pbxs(
    tmp_path: Path,
    east: AmiSimulator,
    west: AmiSimulator,
    *,
    east_lines: int,
    west_lines: int,
    **sections: Any,
) -> LoadedConfig:
    pbx: dict[str, Any] = {"secret": SECRET}
    overrides: dict[str, Any] = {
        "store": {"path": str(tmp_path / "d.sqlite3")},
        "ami": [
            {
                "name": "east",
                **fast_ami("127.0.0.1", east.port),
                **pbx,
                "max_concurrent_calls": east_lines,
            },
            {
                "name": "west",
                **fast_ami("127.0.0.1", west.port),
                **pbx,
                "max_concurrent_calls": west_lines,
            },
        ],
        "dialing": {**SANDBOX_DIALING, "max_concurrent_calls": 10},
        "window": {"open": "00:00", "close": "00:00"},
        "campaigns": {"default": {"max_attempts": 1}},
        "api": {"enabled": False},
        "console": {"enabled": False},
        **sections,
    }
    return load_config(None, overrides=overrides)


def phones(digit: str, first: int, count: int) -> list[str]:
    """Customers the simulator treats alike: ``digit`` is the 4th from the end (1: answers
    and talks 2 s; 5: answers and talks 30 s)."""
    return [f"+7916123{digit}{n:03d}" for n in range(first, first + count)]


def call_ids(sim: AmiSimulator) -> list[str]:
    return [o.headers["ChannelId"] for o in sim.originates if "ChannelId" in o.headers]


async def settled(
    db: Database, lead_ids: list[int], timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """Every lead's attempts once none is 'dialing' and each lead was tried."""
    async with asyncio.timeout(timeout_s):
        while True:
            leads = [await store.get_lead(db, lead_id) for lead_id in lead_ids]
            if all(r is not None and r["attempts"] >= 1 and r["state"] != "dialing" for r in leads):
                return [a for a in await store.attempts_of(db) if a["lead_id"] in lead_ids]
            await asyncio.sleep(0.05)


async def until(check: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The most calls that were in flight at once, from their (start, end) times."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def one_queue_on_each(east: AmiSimulator, west: AmiSimulator) -> dict[str, Any]:
    """Queue "sales" on both PBXs, each with one member on the same interface name: anna
    on east, boris on west."""
    for sim in (east, west):
        sim.add_member("sales", "Local/101@operators", "Operator 101")
        sim.route_to_queue("operators", "600", "sales", timeout_s=None)
    return {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": "anna", "group": "sales", "interface": "Local/101@operators", "pbx": "east"},
            {"name": "boris", "group": "sales", "interface": "Local/101@operators", "pbx": "west"},
        ],
    }


async def test_two_pbxs_dial_every_lead_once_spread_by_their_free_lines(tmp_path, east, west):
    loaded = two_pbxs(tmp_path, east, west, east_lines=3, west_lines=1)
    async with fleet_dialing(loaded) as parts:
        ids = await add_leads(parts.db, phones("1", 0, 24))
        parts.fleet.wake()
        attempts = await settled(parts.db, ids)

    assert Counter(a["lead_id"] for a in attempts) == dict.fromkeys(ids, 1)
    assert {a["outcome"] for a in attempts} == {"answered"}
    # counted from each PBX's side: every call has its attempt on that PBX, and back
    by_pbx = {
        name: {a["call_id"] for a in attempts if a["pbx"] == name} for name in ("east", "west")
    }
    assert sorted(call_ids(east)) == sorted(by_pbx["east"])
    assert sorted(call_ids(west)) == sorted(by_pbx["west"])
    assert by_pbx["east"].isdisjoint(by_pbx["west"])
    # three free lines take about three times the calls of one, and no PBX went over its own
    assert len(by_pbx["east"]) > len(by_pbx["west"]) >= 1
    for name, lines in (("east", 3), ("west", 1)):
        spans = [(a["created_at"], a["ended_at"]) for a in attempts if a["pbx"] == name]
        assert peak_overlap(spans) <= lines


async def test_a_pbx_out_of_reach_keeps_its_calls_and_the_other_keeps_dialing(tmp_path, east, west):
    loaded = two_pbxs(tmp_path, east, west, east_lines=2, west_lines=2)
    async with fleet_dialing(loaded) as parts:
        long_calls = await add_leads(parts.db, phones("5", 0, 4))  # 30 s talks, 2 per PBX
        parts.fleet.wake()
        await until(lambda: len(east.active_channels) == 2 and len(west.active_channels) == 2)
        await east.close_port()  # east's AMI is gone; its calls carry on
        await until(lambda: not parts.pbxs[0].connected.is_set())
        short_calls = await add_leads(parts.db, phones("1", 0, 3))
        parts.fleet.wake()
        # west dials them while east is away; east's calls stay 'dialing', not 'unknown'
        await settled(parts.db, short_calls)
        during = await store.attempts_of(parts.db)
        assert {a["pbx"] for a in during if a["lead_id"] in short_calls} == {"west"}
        assert [a["status"] for a in during if a["pbx"] == "east"] == ["dialing", "dialing"]
        await east.reopen_port()
        attempts = await settled(parts.db, long_calls + short_calls)

    assert Counter(a["lead_id"] for a in attempts) == dict.fromkeys(long_calls + short_calls, 1)
    # east's calls, asked of east once it was back, ended as they did: answered, talked
    east_calls = [a for a in attempts if a["pbx"] == "east"]
    assert len(east_calls) == 2
    assert {a["outcome"] for a in attempts} == {"answered"}
    assert all(a["talk_s"] and a["talk_s"] >= 2.5 for a in east_calls)
    assert sorted(call_ids(east)) == sorted(a["call_id"] for a in east_calls)


async def test_a_restart_adopts_each_call_on_its_own_pbx(tmp_path, east, west):
    loaded = two_pbxs(tmp_path, east, west, east_lines=2, west_lines=2)
    async with fleet_dialing(loaded, drain=False) as parts:
        ids = await add_leads(parts.db, phones("5", 0, 4))  # 30 s talks, 2 per PBX
        parts.fleet.wake()
        await until(lambda: len(east.active_channels) == 2 and len(west.active_channels) == 2)
    # stopped at once: the four calls are live on their PBXs and 'dialing' in the store
    sent = {"east": sorted(call_ids(east)), "west": sorted(call_ids(west))}

    async with fleet_dialing(loaded) as parts:
        attempts = await settled(parts.db, ids)

    # nothing dialed again; each call followed on the PBX that carries it to its real end
    # (asked of the other PBX, a live call would be gone there and settled 'unknown')
    assert {"east": sorted(call_ids(east)), "west": sorted(call_ids(west))} == sent
    assert Counter(a["lead_id"] for a in attempts) == dict.fromkeys(ids, 1)
    assert {a["outcome"] for a in attempts} == {"answered"}
    assert all(a["talk_s"] >= 2.5 for a in attempts)  # of 3 s (30 simulated)
    for name in ("east", "west"):
        assert sorted(a["call_id"] for a in attempts if a["pbx"] == name) == sent[name]


async def test_each_pbx_offers_its_calls_to_its_own_operators_and_the_floor_shows_all(
    tmp_path, east, west
):
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=5,
        west_lines=5,
        campaigns={"default": {"max_attempts": 1, "group": "sales"}},
        **one_queue_on_each(east, west),  # one operator each, on the same interface name
    )
    async with fleet_dialing(loaded) as parts:
        ids = await add_leads(parts.db, phones("1", 0, 8))
        parts.fleet.wake()
        attempts = await settled(parts.db, ids)
        floor = parts.fleet.operators
        assert sorted(floor.operators) == ["anna", "boris"]
        assert all(op.signed_in(time.time()) for op in floor.operators.values())
        state = tmp_path / "d.sqlite3.operators.json"
        await until(lambda: state.exists() and "boris" in state.read_text())
        assert "anna" in state.read_text()

    assert Counter(a["lead_id"] for a in attempts) == dict.fromkeys(ids, 1)
    # a PBX's answered customers went to its own operator, and both PBXs had calls
    assert {(a["pbx"], a["operator"]) for a in attempts} == {("east", "anna"), ("west", "boris")}


async def test_an_inbound_call_is_put_down_to_the_operator_of_the_pbx_it_came_in_on(
    tmp_path, east, west
):
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=1,
        west_lines=1,
        missed_calls={"enabled": False},
        **one_queue_on_each(east, west),
    )
    async with fleet_dialing(loaded) as parts:
        await until(lambda: parts.fleet.operators.synced)
        on_east = east.queue_call("+79161230001", after_s=0.5, talk_s=0.5, uniqueid="e.1")
        on_west = west.queue_call("+79161230002", after_s=0.5, talk_s=0.5, uniqueid="w.1")

        async def answered() -> list[dict[str, Any]]:
            found = await parts.db.conn.execute_fetchall(
                "SELECT uniqueid, operator FROM inbound_calls WHERE outcome = 'answered'"
            )
            return [dict(row) for row in found]

        async with asyncio.timeout(10):
            while len(calls := await answered()) < 2:
                await asyncio.sleep(0.05)

    # the same queue member on two PBXs is two operators: each call is its own PBX's
    assert {c["uniqueid"]: c["operator"] for c in calls} == {on_east: "anna", on_west: "boris"}


async def test_two_pbxs_numbering_their_callers_alike_record_both_calls(tmp_path, east, west):
    """Two Asterisk servers without distinct systemnames can give two callers the same
    Uniqueid: each is its own PBX's call, recorded and answered there."""
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=1,
        west_lines=1,
        missed_calls={"enabled": False},
        **one_queue_on_each(east, west),
    )
    same = "1760000000.7"
    async with fleet_dialing(loaded) as parts:
        await until(lambda: parts.fleet.operators.synced)
        east.queue_call("+79161230001", after_s=0.5, talk_s=0.5, uniqueid=same)
        west.queue_call("+79161230002", after_s=0.5, talk_s=0.5, uniqueid=same)

        async def answered() -> list[dict[str, Any]]:
            found = await parts.db.conn.execute_fetchall(
                "SELECT pbx, uniqueid, caller, operator FROM inbound_calls"
                " WHERE outcome = 'answered'"
            )
            return [dict(row) for row in found]

        async with asyncio.timeout(10):
            while len(calls := await answered()) < 2:
                await asyncio.sleep(0.05)

    assert sorted(calls, key=lambda c: c["pbx"]) == [
        {"pbx": "east", "uniqueid": same, "caller": "+79161230001", "operator": "anna"},
        {"pbx": "west", "uniqueid": same, "caller": "+79161230002", "operator": "boris"},
    ]


async def test_a_pbx_without_operators_of_its_own_dials_survey_campaigns_only(tmp_path, east, west):
    """Anna is on east, nobody on west: a customer answered on west could reach no operator
    (east's queue is not west's), so west dials the survey campaign's customers only, even
    for a campaign without an operator group, while east dials both."""
    east.add_member("sales", "Local/101@operators", "Operator 101")
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=1,
        west_lines=1,
        groups={"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        operators=[
            {"name": "anna", "group": "sales", "interface": "Local/101@operators", "pbx": "east"}
        ],
        campaigns={
            "default": {"max_attempts": 1},  # customer_first, no operator group
            "after-sale": {"max_attempts": 1, "mode": "survey"},
        },
    )
    async with fleet_dialing(loaded) as parts:
        await until(lambda: parts.fleet.operators.synced)
        sales = await add_leads(parts.db, phones("1", 0, 6))
        surveys = [
            await store.insert_lead(
                parts.db, store.NewLead(phone=Phone(p), campaign="after-sale"), time.time()
            )
            for p in phones("1", 100, 6)
        ]
        parts.fleet.wake()
        attempts = await settled(parts.db, sales + surveys)

    assert Counter(a["lead_id"] for a in attempts) == dict.fromkeys(sales + surveys, 1)
    assert {a["pbx"] for a in attempts if a["lead_id"] in sales} == {"east"}
    assert {a["pbx"] for a in attempts if a["lead_id"] in surveys} >= {"west"}
    assert len(call_ids(west)) == len([a for a in attempts if a["pbx"] == "west"])


async def test_the_log_lines_of_a_call_name_the_pbx_that_carries_it(tmp_path, east, west):
    loaded = two_pbxs(tmp_path, east, west, east_lines=2, west_lines=2)
    async with fleet_dialing(loaded, drain=False) as parts:
        ids = await add_leads(parts.db, phones("5", 0, 4))  # 30 s talks, 2 per PBX
        parts.fleet.wake()
        await until(lambda: len(east.active_channels) == 2 and len(west.active_channels) == 2)

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with fleet_dialing(loaded) as parts:
            attempts = await settled(parts.db, ids)

    carried = {a["call_id"]: a["pbx"] for a in attempts}
    adopted = {
        line["call_id"]: line.get("pbx") for line in logs if line["event"] == "in_flight_adopted"
    }
    assert adopted == carried  # each adopted call, with the PBX it is asked of
    reconciled = [line for line in logs if line["event"] in ("call_still_live", "evidence_read")]
    assert reconciled and all(line.get("pbx") == carried[line["call_id"]] for line in reconciled)


async def test_a_reload_that_changes_operators_is_in_the_operators_file_at_once(
    tmp_path, east, west
):
    sections = one_queue_on_each(east, west)
    loaded = two_pbxs(tmp_path, east, west, east_lines=1, west_lines=1, **sections)
    state = tmp_path / "d.sqlite3.operators.json"
    async with fleet_dialing(loaded) as parts:
        await until(lambda: parts.fleet.operators.synced)
        await until(lambda: state.exists() and "boris" in state.read_text())
        for sim in (east, west):  # Asterisk has nothing more to say: no event, no resync
            await sim.close_port()
        await until(lambda: not any(pbx.connected.is_set() for pbx in parts.pbxs))
        await asyncio.sleep(1.0)  # the file has been written for the link's loss
        sections["operators"] = [*sections["operators"][:1]]  # boris left
        parts.fleet.reload(
            two_pbxs(tmp_path, east, west, east_lines=1, west_lines=1, **sections).settings
        )
        await until(lambda: "boris" not in state.read_text(), timeout_s=3.0)
        assert "anna" in state.read_text()
        for sim in (east, west):
            await sim.reopen_port()


async def test_the_operators_file_says_which_pbx_is_not_connected(tmp_path, east, west):
    """West has no operators of its own, so its AMI loss changes no operator's state: the
    file still tells it, and ``ami_connected`` no longer follows east alone."""
    east.add_member("sales", "Local/101@operators", "Operator 101")
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=1,
        west_lines=1,
        groups={"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        operators=[
            {"name": "anna", "group": "sales", "interface": "Local/101@operators", "pbx": "east"}
        ],
    )
    path = tmp_path / "d.sqlite3.operators.json"

    def written() -> dict[str, Any]:
        return json.loads(path.read_text()) if path.exists() else {}

    async with fleet_dialing(loaded) as parts:
        await until(lambda: written().get("pbx_connected") == {"east": True, "west": True})
        assert written()["ami_connected"] is True
        await west.close_port()
        await until(lambda: written().get("pbx_connected") == {"east": True, "west": False})
        assert written()["ami_connected"] is False
        assert [op["name"] for op in written()["operators"]] == ["anna"]
        await west.reopen_port()
        await until(lambda: written().get("pbx_connected") == {"east": True, "west": True})
        assert parts.fleet.connected()


async def test_the_ami_session_s_log_lines_name_their_pbx(tmp_path, east, west):
    """A lost link, the failed logins after it and the login once it is back, each said of
    the PBX it happened to (with its address), not of "Asterisk" in general."""
    loaded = two_pbxs(tmp_path, east, west, east_lines=1, west_lines=1)
    with capture_logs() as logs:
        async with fleet_dialing(loaded) as parts:
            await until(lambda: parts.fleet.connected())
            await east.close_port()
            await until(lambda: any(line["event"] == "ami_connect_failed" for line in logs))
            await east.reopen_port()
            await until(lambda: parts.fleet.connected())

    def said(event: str) -> list[tuple[Any, Any, Any]]:
        return [(e.get("pbx"), e.get("host"), e.get("port")) for e in logs if e["event"] == event]

    at_east = ("east", "127.0.0.1", east.port)
    assert said("ami_disconnected") == [at_east]
    assert said("ami_connect_failed") and set(said("ami_connect_failed")) == {at_east}
    assert sorted(said("ami_connected")) == [at_east, at_east, ("west", "127.0.0.1", west.port)]


async def test_the_operators_read_again_after_a_reload_name_their_pbx(tmp_path, east, west):
    """A reload comes from SIGHUP's handler, where no PBX is bound (as here, the test's own
    context): the full read of each PBX's operators it starts still names that PBX."""
    sections = one_queue_on_each(east, west)
    loaded = two_pbxs(tmp_path, east, west, east_lines=1, west_lines=1, **sections)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with fleet_dialing(loaded) as parts:
            await until(lambda: parts.fleet.operators.synced)
            before = len(logs)
            east.add_member("sales", "Local/102@operators", "Operator 102")
            sections["operators"] = [
                *sections["operators"],
                {"name": "vera", "group": "sales", "interface": "Local/102@operators"},
            ]  # vera on east, the first PBX: both boards are rebuilt and read again
            reloaded = two_pbxs(tmp_path, east, west, east_lines=1, west_lines=1, **sections)
            parts.fleet.reload(reloaded.settings)

            def synced_again() -> list[Any]:
                return [
                    line.get("pbx") for line in logs[before:] if line["event"] == "operators_synced"
                ]

            await until(lambda: len(synced_again()) == 2)
            assert "vera" in parts.fleet.operators.operators

    assert sorted(synced_again()) == ["east", "west"]


async def test_a_missed_call_lead_says_which_pbx_the_customer_called(tmp_path, east, west):
    loaded = two_pbxs(tmp_path, east, west, east_lines=1, west_lines=1)
    async with fleet_dialing(loaded) as parts:
        await until(parts.fleet.connected)
        east.emit_queue_abandon("89161231003", queue="sales", hold_s=40, uniqueid="1.1")
        west.emit_queue_abandon("89161231004", queue="sales", hold_s=20, uniqueid="1.1")

        async def missed() -> list[dict[str, Any]]:
            found = await parts.db.conn.execute_fetchall(
                "SELECT phone, metadata FROM leads WHERE source = 'missed_call' ORDER BY phone"
            )
            return [dict(row) for row in found]

        async with asyncio.timeout(10):
            while len(leads := await missed()) < 2:
                await asyncio.sleep(0.05)

    # one Uniqueid on two PBXs: the lead says whose it is
    assert [(lead["phone"], json.loads(lead["metadata"])) for lead in leads] == [
        ("+79161231003", {"uniqueid": "1.1", "queue": "sales", "hold_s": 40, "pbx": "east"}),
        ("+79161231004", {"uniqueid": "1.1", "queue": "sales", "hold_s": 20, "pbx": "west"}),
    ]


async def seed_answered(path: Path, answered: int) -> None:
    """``answered`` calls of the default campaign an hour ago, answered and put through to an
    operator at once: with a 3 % cap, room for 3 abandons (3 / 103 ≤ 3 %)."""
    async with open_store(path) as db:
        await db.conn.execute(
            "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state, close_reason)"
            " VALUES (1000, '+79160000000', 0, 0, 0, 'closed', 'reached')"
        )
        at = time.time() - 3600
        for n in range(answered):
            await db.conn.execute(
                "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone,"
                " mode, status, created_at, outcome, answered_at, operator_at) VALUES (1000, ?,"
                " ?, ?, 'default', '+79160000000', 'customer_first', 'done', ?, 'answered', ?, ?)",
                (n + 1, f"hist-{n}", f"hist-a-{n}", at, at + 1, at + 1.5),
            )
        await db.conn.commit()


async def test_two_pbxs_over_dial_on_one_abandon_budget_not_one_each(tmp_path, east, west):
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=5,
        west_lines=5,
        campaigns={
            "default": {
                "max_attempts": 1,
                "group": "sales",
                "mode": "customer_first",
                "dial_ratio": 4,
            }
        },
        dialing={**SANDBOX_DIALING, "max_concurrent_calls": 10, "originate_timeout_s": 60},
        **one_queue_on_each(east, west),  # one free operator on each PBX
    )
    await seed_answered(tmp_path / "d.sqlite3", 100)
    async with fleet_dialing(loaded, drain=False) as parts:
        # customers who ring a long while (the Originate timeout: 60 s simulated, 6 s)
        await add_leads(parts.db, phones("3", 0, 12))
        parts.fleet.wake()
        await until(lambda: len(call_ids(east)) + len(call_ids(west)) >= 5)
        await asyncio.sleep(0.8)  # 8 s simulated: room for more calls, had any been allowed
        sent = {"east": len(call_ids(east)), "west": len(call_ids(west))}
    # ringing customers beyond the free operators may all answer at once and abandon: the
    # budget of 3 is shared, so 1 + 1 operators + 3 more, not 1 + 4 on each PBX (8)
    assert sum(sent.values()) == 5, sent
    assert min(sent.values()) >= 1  # each PBX dialed its own operator's customer


async def test_two_pbxs_dialing_ahead_share_one_new_campaign_s_first_risk(tmp_path, east, west):
    """Predictive, no history yet: a window too small for one abandon under the cap takes one
    customer beyond the free operators in flight (``START_RISK_CALLS``) — one for the
    campaign, not one per PBX. Four free operators on each PBX: 4 + 4 + 1 customers ring."""
    operators = []
    for sim, pbx, name in ((east, "east", "anna"), (west, "west", "boris")):
        sim.route_to_queue("operators", "600", "sales", timeout_s=None)
        for n in range(1, 5):
            sim.add_member("sales", f"Local/10{n}@operators", f"Operator 10{n}")
            operators.append(
                {
                    "name": f"{name}{n}",
                    "group": "sales",
                    "interface": f"Local/10{n}@operators",
                    "pbx": pbx,
                }
            )
    loaded = two_pbxs(
        tmp_path,
        east,
        west,
        east_lines=8,
        west_lines=8,
        campaigns={"default": {"max_attempts": 1, "group": "sales", "mode": "predictive"}},
        dialing={**SANDBOX_DIALING, "max_concurrent_calls": 16, "originate_timeout_s": 60},
        groups={"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        operators=operators,
    )
    async with fleet_dialing(loaded, drain=False) as parts:
        await add_leads(parts.db, phones("3", 0, 16))  # ring until the Originate timeout
        parts.fleet.wake()
        await until(lambda: len(call_ids(east)) + len(call_ids(west)) >= 9)
        await asyncio.sleep(0.8)
        sent = {"east": len(call_ids(east)), "west": len(call_ids(west))}
    assert sum(sent.values()) == 9, sent
    assert min(sent.values()) >= 4
