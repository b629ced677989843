"""The operator's screen over HTTP, on the AMI simulator: sign-in, the card pushed at connect,
the result through the API's own path, and every refusal a person can run into.

The browser itself is in ``tests/integration/test_operator_screen.py`` (real Asterisk, a real
SIP phone, headless Chromium); here the same daemon is driven fast, message by message.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from support.console import PASSWORDS, console_overrides, running_console, signed_in, signin_token
from support.scenarios import pbx_config

from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store import sql

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SECRET = "sim-secret"
OPERATORS = ("anna", "boris")


@pytest.fixture
async def sim():
    async with AmiSimulator(
        secret=SECRET, time_scale=1.0, rule=lambda number: SimOutcome("answer", talk_s=1.0)
    ) as simulator:
        for name in OPERATORS:
            simulator.add_member("sales", f"Local/{name}@operators", name)
        simulator.route_to_queue("operators", "600", "sales")
        yield simulator


def config(tmp_path, sim, operators=OPERATORS):
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in operators
        ],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales", "max_attempts": 4}},
        **console_overrides(tmp_path),
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def add_order(db, phone="+79161234001", order_id="A-100", amount=129050, **more):
    lead = store.NewLead(
        phone=Phone(phone),
        order_id=order_id,
        name="Irina Petrova",
        amount_minor=amount,
        items=[{"name": "Kettle", "qty": 1, "price": "1290.50"}],
        comment="call after lunch <b>please</b>",
        metadata={"delivery": "courier", "utm": "spring-sale-7"},
        **more,
    )
    return await store.insert_lead(db, lead, time.time())


async def test_the_card_pops_at_connect_and_one_click_records_the_result(tmp_path, sim):
    async with running_console(config(tmp_path, sim, operators=("anna",))) as daemon:
        db = daemon.parts.db
        async with signed_in(daemon.url, "anna") as anna, anna.stream():
            hello = await anna.wait_for("hello")
            assert (hello["user"], hello["role"], hello["pbx"], hello["card"]) == (
                "anna",
                "operator",
                True,
                None,
            )
            lead_id = await add_order(db)
            daemon.parts.engine.wake()
            card = await anna.wait_for("card", lead_id=lead_id)
            html = card["html"]
            assert "+79161234001" in html and "Irina Petrova" in html and "A-100" in html
            assert "1290.50" in html and "Kettle" in html and "courier" in html
            assert "spring-sale-7" not in html  # metadata the YAML does not mark stays off the card
            assert "&lt;b&gt;please&lt;/b&gt;" in html  # the shop's text is escaped
            assert "Attempt 1 of 4" in html
            # a live call takes no result yet; the page keeps it and sends it again at the end
            early = await anna.post(
                f"/operator/calls/{card['call_id']}/result",
                {"result": "confirmed", "amount": "1290.50"},
            )
            if early.status_code == 202:
                assert early.json()["pending"] == "call_in_progress"
                await anna.wait_for("ended", call_id=card["call_id"])
            saved = await anna.post(
                f"/operator/calls/{card['call_id']}/result",
                {"result": "confirmed", "amount": "1199.00", "note": "wants it by Friday"},
            )
            assert saved.status_code in (200, 201), saved.text
            await anna.wait_for("saved", call_id=card["call_id"], result="confirmed")
            counts = await anna.wait_for("counts", confirmed=1)
            assert (counts["calls"], counts["revenue"]) == (1, "1199.00")
        lead = await store.get_lead(db, lead_id)
        assert (lead["state"], lead["close_reason"]) == ("closed", "confirmed")
        rows = await sql.rows(
            db.conn,
            "SELECT result, amount_minor, note, operator FROM dispositions WHERE lead_id = ?",
            (lead_id,),
        )
        assert [tuple(r) for r in rows] == [("confirmed", 119900, "wants it by Friday", "anna")]
        (pushed,) = await sql.rows(
            db.conn, "SELECT COUNT(*) FROM outbox WHERE lead_id = ?", (lead_id,)
        )
        assert pushed[0] == 1  # the CRM hears it, once, as it does from the API


async def test_refusals_a_person_can_run_into(tmp_path, sim):
    async with running_console(config(tmp_path, sim)) as daemon:
        async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as client:
            # not signed in: pages go to the form, script calls get 401
            page = await client.get("/operator")
            assert (page.status_code, page.headers["location"]) == (303, "/signin")
            form = await client.get("/signin")
            assert "default-src 'none'" in form.headers["content-security-policy"]
            token = signin_token(form.text)
            wrong = await client.post(
                "/signin", data={"name": "anna", "password": "guess-1234", "csrf": token}
            )
            assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
            forged = await client.post(
                "/signin", data={"name": "anna", "password": PASSWORDS["anna"], "csrf": "x"}
            )
            assert forged.status_code == 403  # the sign-in form's own token is checked too
        db = daemon.parts.db
        async with signed_in(daemon.url, "anna") as anna, signed_in(daemon.url, "boris") as boris:
            async with anna.stream():
                lead_id = await add_order(db)
                daemon.parts.engine.wake()
                # whoever the queue connects gets the card; find whose it is from the board
                async with asyncio.timeout(15):
                    while not (
                        owners := [
                            op.name
                            for op in daemon.parts.engine.operators.operators.values()
                            if op.current is not None and op.current.lead_id == lead_id
                        ]
                    ):
                        await asyncio.sleep(0.02)
                (owner,) = owners
                me, other = (anna, boris) if owner == "anna" else (boris, anna)
                (row,) = await sql.rows(
                    db.conn, "SELECT call_id FROM attempts WHERE lead_id = ?", (lead_id,)
                )
                call_id = row[0]
                path = f"/operator/calls/{call_id}/result"
                refused = await other.post(path, {"result": "refused"})
                assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_yours"
                card = await other.client.get(f"/operator/calls/{call_id}/card")
                assert card.status_code == 404 and "Irina" not in card.text
                no_csrf = await me.post(path, {"result": "refused"}, csrf=False)
                assert no_csrf.status_code == 403
                complaint = await me.post(path, {"result": "complaint"})
                assert complaint.json()["error"]["message"] == "A complaint needs a note."
                bad_amount = await me.post(path, {"result": "confirmed", "amount": "12,5 руб"})
                assert bad_amount.status_code == 422
                assert await sql.rows(db.conn, "SELECT * FROM dispositions") == []
            supervisor_page = await anna.client.get("/supervisor")
            assert supervisor_page.status_code == 403  # an operator never sees supervisor pages
        async with signed_in(daemon.url, "boss") as boss:
            assert (await boss.client.get("/supervisor")).status_code == 200
            operator_page = await boss.client.get("/operator")
            assert operator_page.status_code == 403


async def test_sign_in_attempts_are_limited_per_name(tmp_path, sim):
    async with running_console(config(tmp_path, sim)) as daemon:
        async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as client:
            statuses = []
            for _ in range(7):
                token = signin_token((await client.get("/signin")).text)
                response = await client.post(
                    "/signin", data={"name": "anna", "password": "not-it-123", "csrf": token}
                )
                statuses.append(response.status_code)
            assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
            token = signin_token((await client.get("/signin")).text)
            right = await client.post(
                "/signin", data={"name": "anna", "password": PASSWORDS["anna"], "csrf": token}
            )
            assert right.status_code == 429  # even the right password waits: guessing is slowed
        rows = await sql.rows(
            daemon.parts.db.conn, "SELECT user, ok FROM console_logins ORDER BY id"
        )
        assert [tuple(r) for r in rows] == [("anna", 0)] * 8
