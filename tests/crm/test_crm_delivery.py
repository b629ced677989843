"""The daemon pushes results to a real local CRM server that is down, failing, then back.

Results come from the real engine on the AMI simulator (busy numbers with one attempt
allowed end as ``exhausted``) and from ``dialerd dnc add``; the CRM server checks every
signature; the daemon is stopped mid-backoff and started again.
"""

import asyncio
import json
from collections import Counter

import pytest
from support.scenarios import running_engine
from support.webhook import WebhookServer

from dialerd.cli.main import main
from dialerd.config import load_config
from dialerd.pbx.sim.server import AmiSimulator
from dialerd.policy.phones import Phone
from dialerd.store import leads as store
from dialerd.store import outbox

CRM_SECRET = "crm-hmac-key"
AMI_SECRET = "sim-secret"


@pytest.fixture
async def sim():
    async with AmiSimulator(secret=AMI_SECRET, time_scale=10.0) as simulator:
        yield simulator


def write_config(tmp_path, sim, crm_url, **crm):
    (tmp_path / "ami.secret").write_text(AMI_SECRET)
    (tmp_path / "crm.secret").write_text(CRM_SECRET)
    crm_lines = "".join(f"  {key}: {value}\n" for key, value in crm.items())
    path = tmp_path / "dialerd.yaml"
    path.write_text(
        f"store:\n  path: {tmp_path / 'd.sqlite3'}\n"
        f"ami:\n  port: {sim.port}\n  secret_file: {tmp_path / 'ami.secret'}\n"
        "  reconnect_initial_s: 0.1\n"
        "dialing:\n  channel_template: 'Local/{number}@customers'\n  originate_timeout_s: 3\n"
        "window:\n  open: '00:00'\n  close: '00:00'\n"
        "campaigns:\n  default:\n    max_attempts: 1\n"
        "api:\n  enabled: false\nconsole:\n  enabled: false\n"
        f"crm:\n  url: {crm_url}\n  secret_file: {tmp_path / 'crm.secret'}\n{crm_lines}"
    )
    return path


async def outbox_rows(db):
    return await outbox.messages(db, limit=1000)


async def wait_rows(db, check, timeout_s=10.0):
    async with asyncio.timeout(timeout_s):
        while not check(rows := await outbox_rows(db)):
            await asyncio.sleep(0.05)
    return rows


async def test_every_result_arrives_once_after_an_outage_and_a_restart(tmp_path, sim):
    crm = WebhookServer(secret=CRM_SECRET)
    await crm.start()
    await crm.stop()  # the CRM is down; its port is known
    loaded = load_config(
        write_config(tmp_path, sim, crm.url, timeout_s=2, backoff_initial_s=0.1, backoff_max_s=0.4)
    )
    busy = ["+79161232001", "+79161232002", "+79161232003"]

    async with running_engine(loaded) as (engine, db, _pbx):
        ids = [await store.insert_lead(db, store.NewLead(phone=Phone(p)), 1e9) for p in busy]
        engine.wake()
        # every lead ends exhausted, its result is tried, refused (down) and tried again
        rows = await wait_rows(
            db, lambda rows: len(rows) == 3 and all(r["attempts"] >= 2 for r in rows)
        )
    # stopped mid-backoff: nothing delivered, nothing lost
    assert sorted(r["lead_id"] for r in rows) == ids
    assert {r["state"] for r in rows} == {"pending"}
    assert all("ConnectError" in r["last_error"] for r in rows)

    failures = iter(range(3))
    crm.answer = lambda _request: 500 if next(failures, None) is not None else 200
    await crm.start()  # back, answering 500 three times first
    try:
        async with running_engine(loaded) as (_engine, db, _pbx):
            await crm.wait_for(lambda s: len(s.delivered()) >= 3, timeout_s=10)
            rows = await wait_rows(db, lambda rows: {r["state"] for r in rows} == {"delivered"})
            await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        await crm.stop()
    keys = {r["idempotency_key"] for r in rows}
    assert Counter(r.key for r in crm.delivered()) == dict.fromkeys(keys, 1)
    assert [r.status for r in crm.received[:3]] == [500, 500, 500]
    assert all(r.signature_ok for r in crm.received)
    for request in crm.delivered():
        body = request.json()
        assert request.headers["content-type"] == "application/json"
        assert int(request.headers["x-dialerd-timestamp"]) > 1.7e9
        assert body["result"] == "exhausted" and body["lead"]["phone"] in busy
        assert body["idempotency_key"] == request.key


async def test_parked_messages_are_listed_and_retried_from_the_cli(tmp_path, sim, capsys):
    async with WebhookServer(secret=CRM_SECRET, answer=500) as crm:
        path = write_config(
            tmp_path, sim, crm.url, max_tries=2, backoff_initial_s=0.05, backoff_max_s=0.1
        )
        loaded = load_config(path)
        cli = lambda *argv: asyncio.to_thread(main, [*argv, "--config", str(path)])  # noqa: E731
        async with running_engine(loaded) as (_engine, db, _pbx):
            later = 2e9  # agreed callbacks: the engine leaves them alone
            for phone in ("+74951111111", "+74952222222"):
                lead = store.NewLead(phone=Phone(phone), callback_at=later)
                await store.insert_lead(db, lead, 1e9)

            # a result from another process (the CLI); its poke wakes the daemon
            assert await cli("dnc", "add", "+74951111111") == 0
            (first,) = await wait_rows(db, lambda rows: rows and rows[0]["state"] == "parked")
            assert first["attempts"] == 2 and "HTTP 500" in first["last_error"]

            crm.answer = 400  # a bad request is parked at once
            assert await cli("dnc", "add", "+74952222222") == 0
            rows = await wait_rows(db, lambda rows: len(rows) == 2 and rows[1]["state"] == "parked")
            assert rows[1]["attempts"] == 1 and "HTTP 400" in rows[1]["last_error"]

            capsys.readouterr()
            assert await cli("outbox", "list", "--state", "parked", "--format", "json") == 0
            listed = json.loads(capsys.readouterr().out)
            assert [(m["id"], m["payload"]["result"]) for m in listed] == [
                (rows[0]["id"], "dnc"),
                (rows[1]["id"], "dnc"),
            ]

            crm.answer = 200
            assert await cli("outbox", "retry", "--all-parked") == 0
            assert "2 parked message(s) moved back to pending" in capsys.readouterr().out
            rows = await wait_rows(db, lambda rows: {r["state"] for r in rows} == {"delivered"})

            assert await cli("outbox", "retry", str(rows[0]["id"])) == 2
            assert "is delivered, not parked" in capsys.readouterr().err
            assert await cli("outbox", "retry", "999") == 2
            assert "no outbox message 999" in capsys.readouterr().err
    assert Counter(r.key for r in crm.delivered()) == {r["idempotency_key"]: 1 for r in rows}
    assert [r.status for r in crm.received] == [500, 500, 400, 200, 200]


async def test_a_timeout_is_retried_with_the_same_key(tmp_path, sim):
    async with WebhookServer(secret=CRM_SECRET, delay_s=1.0) as crm:
        loaded = load_config(
            write_config(tmp_path, sim, crm.url, timeout_s=0.2, backoff_initial_s=0.05)
        )
        async with running_engine(loaded) as (engine, db, _pbx):
            await store.insert_lead(db, store.NewLead(phone=Phone("+79161232001")), 1e9)
            engine.wake()
            await crm.wait_for(lambda s: len(s.received) >= 1, timeout_s=10)
            crm.delay_s = 0.0
            (row,) = await wait_rows(db, lambda rows: rows and rows[0]["state"] == "delivered")
    assert row["attempts"] >= 2 and "timeout" in row["last_error"]
    assert {r.key for r in crm.received} == {row["idempotency_key"]}
