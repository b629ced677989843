"""The supervisor's screens over HTTP, on the AMI simulator (issue 13): the wallboard's
numbers against the CLI's, the report's and the engine's; the lead desk and its audited
actions; pausing a campaign; listening; and every supervisor route refused to an operator.

The browser, real Asterisk and the README's screenshots are in
``tests/integration/test_supervisor_screens.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from support.console import console_overrides, running_console, signed_in
from support.scenarios import pbx_config

from dialerd.cli.operators import operators_report
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.reports.build import build_report
from dialerd.reports.period import days, local_today
from dialerd.store import leads as store
from dialerd.store import sql

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"
OPERATORS = ("anna", "boris")


def talk(seconds: float):
    return lambda number: SimOutcome("answer", talk_s=seconds)


@contextlib.asynccontextmanager
async def simulator(rule, members=OPERATORS):
    async with AmiSimulator(secret=SECRET, time_scale=1.0, rule=rule) as sim:
        for name in members:
            sim.add_member("sales", f"Local/{name}@operators", name)
        sim.route_to_queue("operators", "600", "sales")
        yield sim


def config(tmp_path, sim, *, window=None, supervisor=None, max_attempts=4):
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in OPERATORS
        ],
        "campaigns": {
            "default": {"mode": "customer_first", "group": "sales", "max_attempts": max_attempts}
        },
        **console_overrides(tmp_path),
    }
    if supervisor:
        extra["console"]["supervisors"] = [{"name": "boss", **supervisor}]
    if window:
        extra["window"] = window
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def add_order(db, phone, order_id=None, name="Irina Petrova", **more):
    lead = store.NewLead(
        phone=Phone(phone), order_id=order_id, name=name, amount_minor=129050, **more
    )
    return await store.insert_lead(db, lead, time.time())


async def wallboard_where(session, test, timeout_s=15.0):
    """The latest wallboard (hello's or a pushed one) once ``test(board)`` holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            boards = [
                m["wallboard"] if m["type"] == "hello" else m
                for m in session.messages
                if m["type"] == "wallboard" or (m["type"] == "hello" and m.get("wallboard"))
            ]
            if boards and test(boards[-1]):
                return boards[-1]
            await asyncio.sleep(0.02)


def value(board, key):
    return board["numbers"][key]["value"]


async def test_the_wallboard_says_what_the_engine_the_cli_and_the_report_say(tmp_path):
    async with simulator(talk(1.5)) as sim:
        loaded = config(tmp_path, sim)
        async with running_console(loaded) as daemon, signed_in(daemon.url, "boss") as boss:
            page = await boss.client.get("/supervisor")
            assert page.status_code == 200
            assert 'data-number="calls_ringing"' in page.text and "Wallboard" in page.text
            assert "style=" not in page.text  # the CSP allows no inline style
            tv = await boss.client.get("/supervisor", params={"tv": 1})
            assert 'class="supervisor wallboard tv"' in tv.text and "Pause campaign" not in tv.text
            db = daemon.parts.db
            async with boss.stream():
                hello = await boss.wait_for("hello")
                board = hello["wallboard"]
                assert (value(board, "ops_free"), value(board, "calls_talking")) == (2, 0)
                assert [c["name"] for c in board["campaigns"]] == ["default"]
                ids = [await add_order(db, f"+7916123{n:04d}") for n in range(1, 7)]
                daemon.parts.engine.wake()
                busy = await wallboard_where(
                    boss, lambda b: value(b, "calls_talking") + value(b, "calls_queued") >= 1
                )
                assert busy["numbers"]["waiting_total"]["value"] <= len(ids)
                # every lead dialed and finished, and today's report read after the last one
                async with asyncio.timeout(30):
                    while await sql.rows(db.conn, "SELECT 1 FROM leads WHERE state != 'closed'"):
                        await asyncio.sleep(0.1)
                settings = daemon.parts.engine.settings
                now = time.time()
                zone = settings.window.timezone
                today = local_today(now, zone)
                report = await build_report(db, settings, days(today, today, zone), None, now=now)
                totals = report.totals
                quiet = await wallboard_where(
                    boss,
                    lambda b: (
                        value(b, "calls_ringing") + value(b, "calls_talking") == 0
                        and b["numbers"].get("attempts", {}).get("value") == totals.attempts
                    ),
                    timeout_s=20,
                )
            n = quiet["numbers"]
            assert value(quiet, "ops_free") == 2 and value(quiet, "waiting_total") == 0
            assert (n["conversations"]["value"], n["answer_rate"]["value"]) == (
                totals.conversations,
                totals.answer_rate,
            )
            assert n["stl_median"]["value"] == totals.speed_to_lead_median_s
            assert n["stl_p90"]["value"] == totals.speed_to_lead_p90_s
            assert n["stl_within"]["value"] == totals.speed_to_lead_within_target
            assert n["answer_rate"]["text"] == "100%"
            cli = await asyncio.to_thread(operators_report, settings, time.time())
            rows = {row["name"]: row for row in quiet["operators"]}
            for row in cli["operators"]:
                assert rows[row["name"]]["calls"] == row["today"]["calls"], row
                assert rows[row["name"]]["talk_s"] == pytest.approx(row["today"]["talk_s"], abs=0.1)
                assert rows[row["name"]]["presence"] == row["state"] == "free"
            assert sum(r["calls"] for r in rows.values()) == len(ids)
            charts = await boss.client.get("/supervisor/wallboard/charts")
            assert charts.status_code == 200 and "<svg" in charts.text
            assert "style=" not in charts.text and "calls" in charts.text


async def test_an_operator_cannot_open_or_call_any_supervisor_route(tmp_path):
    async with simulator(talk(1.0)) as sim:
        async with running_console(config(tmp_path, sim)) as daemon:
            lead_id = await add_order(
                daemon.parts.db, "+79161230001", callback_at=time.time() + 9e4
            )
            pages = [
                "/supervisor",
                "/supervisor?tv=1",
                "/supervisor/wallboard/charts",
                "/supervisor/leads",
                "/supervisor/leads?q=%2B79161230001",
                f"/supervisor/leads/{lead_id}",
                "/supervisor/audit",
                "/supervisor/calls/dialerd-1-1-abcd/recording",
            ]
            posts = [
                "/supervisor/campaigns/default/pause",
                "/supervisor/campaigns/default/resume",
                *(
                    f"/supervisor/leads/{lead_id}/{a}"
                    for a in ("reschedule", "close", "dnc", "requeue")
                ),
                "/supervisor/listen",
            ]
            async with signed_in(daemon.url, "anna") as anna:
                for path in pages:
                    response = await anna.client.get(path)
                    assert response.status_code == 403, path
                    assert "Irina" not in response.text and "+79161230001" not in response.text
                for path in posts:
                    response = await anna.client.post(
                        path,
                        data={"csrf": anna.csrf, "note": "x", "extra": "2"},
                        headers={"X-CSRF-Token": anna.csrf},
                    )
                    assert response.status_code == 403, path
                    assert response.json()["error"]["code"] == "forbidden"
            async with httpx.AsyncClient(base_url=daemon.url) as nobody:
                for path in pages:
                    assert (await nobody.get(path)).status_code == 303, path
                for path in posts:
                    assert (await nobody.post(path, data={})).status_code == 401, path
            async with signed_in(daemon.url, "boss") as boss:
                for path in posts:  # a supervisor without the page's CSRF token: refused too
                    response = await boss.client.post(path, data={"note": "x", "extra": "2"})
                    assert response.status_code == 403, path
            db = daemon.parts.db
            assert await sql.rows(db.conn, "SELECT * FROM audit") == []
            assert await sql.rows(db.conn, "SELECT * FROM campaign_pauses") == []
            lead = await store.get_lead(db, lead_id)
            assert (lead["state"], lead["close_reason"]) == ("waiting", None)


def picker(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


async def test_the_lead_desk_finds_leads_and_each_action_is_audited(tmp_path):
    # a window open now, whatever the hour the test runs at: a requeued lead is callable
    moscow = datetime.now(ZoneInfo("Europe/Moscow"))
    opens, closes = moscow - timedelta(hours=3), moscow + timedelta(hours=3)
    window = {"open": f"{opens:%H:00}", "close": f"{closes:%H:00}", "timezone": "Europe/Moscow"}
    # no queue member is logged in: nothing is dialed while the desk works on the leads
    async with simulator(talk(1.0), members=()) as sim:
        async with running_console(config(tmp_path, sim, window=window)) as daemon:
            db, later = daemon.parts.db, time.time() + 9e4
            first = await add_order(db, "+79161234001", order_id="A-100", callback_at=later)
            second = await add_order(db, "+79161234002", name="Oleg Smirnov", callback_at=later)
            third = await add_order(db, "+79161234003", name="Olga Smirnova", callback_at=later)
            async with signed_in(daemon.url, "boss") as boss:

                async def search(q):
                    page = await boss.client.get("/supervisor/leads", params={"q": q})
                    assert page.status_code == 200
                    return {
                        int(i) for i in re.findall(r'href="/supervisor/leads/(\d+)"', page.text)
                    }

                assert await search("8 (916) 123-40-01") == {first}  # the phone, as intake reads it
                assert await search("A-100") == {first}
                assert await search("smirnov") == {second, third}
                assert await search("nobody") == set()

                async def act(lead_id, action, **form):
                    response = await boss.client.post(
                        f"/supervisor/leads/{lead_id}/{action}", data={"csrf": boss.csrf, **form}
                    )
                    assert response.status_code == 303
                    return response.headers["location"].split("?", 1)[1]

                zone = daemon.parts.engine.policy.tz
                tomorrow = datetime.now(zone).replace(second=0, microsecond=0) + timedelta(days=1)
                at = picker(tomorrow)
                outside = tomorrow + timedelta(hours=8)  # the window is open 6 hours a day
                assert await act(first, "reschedule", at=picker(outside)) == "error=at_outside"
                assert await act(first, "reschedule", at="2001-01-01T12:00") == "error=at_past"
                assert await act(first, "reschedule", at=at) == "done=reschedule"
                assert await act(second, "close", note="customer called the shop") == "done=close"
                assert await act(second, "close") == "error=already_closed"
                assert await act(third, "dnc") == "error=note_required"
                assert await act(third, "dnc", note="asked never to be called") == "done=dnc"
                assert await act(third, "reschedule", at=at) == "error=on_dnc"
                assert await act(first, "requeue", extra="2") == "error=not_exhausted"
                exhausted = await add_order(db, "+79161234004", name="Ivan Exhausted")
                async with db.transaction() as conn:
                    await sql.run(
                        conn,
                        "UPDATE leads SET state = 'closed', close_reason = 'exhausted',"
                        " attempts = 4, closed_at = ? WHERE id = ?",
                        (time.time(), exhausted),
                    )
                assert await act(exhausted, "reschedule", at=at) == "error=attempt_cap_reached"
                assert await act(exhausted, "requeue", extra="11") == "error=extra_range"
                assert await act(exhausted, "requeue", extra="2") == "done=requeue"
                page = await boss.client.get(f"/supervisor/leads/{exhausted}?done=requeue")
                assert "Requeued with extra attempts." in page.text
                assert "4 / 6" in page.text and "Number 1 in the dial order." in page.text
                audit_page = await boss.client.get("/supervisor/audit")
                assert audit_page.status_code == 200 and "requeued" in audit_page.text
            leads = {i: await store.get_lead(db, i) for i in (first, second, third, exhausted)}
            assert leads[first]["state"] == "waiting"
            assert leads[first]["callback_at"] == pytest.approx(tomorrow.timestamp())
            assert (leads[second]["state"], leads[second]["close_reason"]) == (
                "closed",
                "cancelled",
            )
            assert (leads[third]["state"], leads[third]["close_reason"]) == ("closed", "dnc")
            assert (leads[exhausted]["state"], leads[exhausted]["extra_attempts"]) == ("waiting", 2)
            dnc = await sql.rows(db.conn, "SELECT pattern, note FROM dnc")
            assert [tuple(r) for r in dnc] == [("+79161234003", "asked never to be called")]
            audit = await sql.rows(db.conn, 'SELECT "user", action, lead_id FROM audit ORDER BY id')
            assert [tuple(r) for r in audit] == [
                ("boss", "reschedule", first),
                ("boss", "close", second),
                ("boss", "dnc_add", third),
                ("boss", "requeue", exhausted),
            ]
            pushed = await sql.rows(db.conn, "SELECT lead_id, payload FROM outbox ORDER BY id")
            assert [(r[0], json.loads(r[1])["result"]) for r in pushed] == [
                (second, "cancelled"),
                (third, "dnc"),
            ]


async def test_a_paused_campaign_is_not_dialed_even_after_a_restart(tmp_path):
    async with simulator(talk(0.5)) as sim:
        loaded = config(tmp_path, sim)
        async with running_console(loaded) as daemon, signed_in(daemon.url, "boss") as boss:
            paused = await boss.client.post(
                "/supervisor/campaigns/default/pause", data={"csrf": boss.csrf, "note": "stock"}
            )
            assert (paused.status_code, paused.headers["location"]) == (
                303,
                "/supervisor?done=paused",
            )
            async with boss.stream():
                board = await wallboard_where(boss, lambda b: b["campaigns"][0]["paused"])
                assert board["campaigns"][0]["paused_by"] == "boss"
            await add_order(daemon.parts.db, "+79161235001")
            daemon.parts.engine.wake()
            await asyncio.sleep(1.5)
            assert sim.originates == []
        async with running_console(loaded) as daemon, signed_in(daemon.url, "boss") as boss:
            assert daemon.parts.engine.campaigns.is_paused("default")
            daemon.parts.engine.wake()
            await asyncio.sleep(1.0)
            assert sim.originates == []
            resumed = await boss.client.post(
                "/supervisor/campaigns/default/resume", data={"csrf": boss.csrf}
            )
            assert resumed.headers["location"] == "/supervisor?done=resumed"
            async with asyncio.timeout(10):
                while not sim.originates:
                    await asyncio.sleep(0.02)
            audit = await sql.rows(
                daemon.parts.db.conn,
                'SELECT "user", action, target, details FROM audit ORDER BY id',
            )
        assert [(*r[:3], json.loads(r[3] or "{}").get("note")) for r in audit] == [
            ("boss", "campaign_pause", "default", "stock"),
            ("boss", "campaign_resume", "default", None),
        ]


async def test_listening_rings_the_supervisors_phone_into_chanspy(tmp_path):
    supervisor = {"device": "Local/301@phones", "whisper": True}
    async with simulator(talk(8.0)) as sim:
        async with running_console(config(tmp_path, sim, supervisor=supervisor)) as daemon:
            async with signed_in(daemon.url, "boss") as boss:
                page = await boss.client.get("/supervisor")
                assert 'data-mode="whisper"' in page.text and 'data-mode="barge"' not in page.text
                idle = await boss.post("/supervisor/listen", {"operator": "anna", "mode": "listen"})
                assert (idle.status_code, idle.json()["error"]["code"]) == (409, "not_talking")
                lead_id = await add_order(daemon.parts.db, "+79161236001")
                daemon.parts.engine.wake()
                board = daemon.parts.engine.operators
                async with asyncio.timeout(15):
                    while not (talking := [o for o in board.operators.values() if o.current]):
                        await asyncio.sleep(0.02)
                name = talking[0].name
                barge = await boss.post("/supervisor/listen", {"operator": name, "mode": "barge"})
                assert (barge.status_code, barge.json()["error"]["code"]) == (
                    403,
                    "mode_not_allowed",
                )
                heard = await boss.post("/supervisor/listen", {"operator": name, "mode": "whisper"})
                assert heard.status_code == 200, heard.text
                assert heard.json()["mode"] == "whisper"
                no_csrf = await boss.post(
                    "/supervisor/listen", {"operator": name, "mode": "listen"}, csrf=False
                )
                assert no_csrf.status_code == 403
            spies = [o.headers for o in sim.originates if o.headers.get("Application") == "ChanSpy"]
            assert len(spies) == 1
            assert spies[0]["Channel"] == "Local/301@phones"
            assert spies[0]["Data"] == f"Local/{name}@operators-,qEw"
            audit = await sql.rows(
                daemon.parts.db.conn,
                'SELECT "user", action, target, lead_id, details FROM audit',
            )
            assert [(*r[:4], json.loads(r[4])["mode"]) for r in audit] == [
                ("boss", "listen", name, lead_id, "whisper")
            ]
