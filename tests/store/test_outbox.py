"""The outbox is written in the transaction of each result: what the CRM will be told."""

import asyncio
import json

import pytest

from dialerd.config import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.domain import CloseReason, FinishedCall, Outcome
from dialerd.intake.leads import Accepted, LeadInput, submit, validate_lead
from dialerd.policy.alerting import Alert, Kind
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Close, Dial
from dialerd.policy.priority import RANKS
from dialerd.policy.retry import after_attempt
from dialerd.store import alerts, attempts, dnc, due, outbox
from dialerd.store import leads as store
from dialerd.store.outbox import NothingToReport, enqueue_result

pytestmark = pytest.mark.engines("sqlite", "postgresql")

NOW = 1_800_000_000.0


async def rows(db):
    return [{**r, "payload": json.loads(r["payload"])} for r in await outbox.messages(db)]


async def claim_and_finish(db, lead_id, outcome, campaign, at):
    claim = await attempts.claim_next(db, at, RANKS, lambda _lead: Dial())
    assert claim is not None and claim.lead_id == lead_id
    call = FinishedCall(claim.attempt_id, lead_id, claim.call_id, outcome, 5, 17, None, at, 1, None)
    update = after_attempt(outcome, claim.attempt_number, campaign_rules(campaign), at)
    await attempts.finish_attempt(db, call, lambda *_: update, at)
    return claim


async def test_an_exhausted_lead_is_enqueued_with_its_close(db):
    campaign = CampaignSettings(max_attempts=2)
    lead_id = await store.insert_lead(
        db,
        store.NewLead(
            phone=Phone("+79161232001"), order_id="A-1", name="Anna", amount_minor=129990
        ),
        NOW,
    )
    await claim_and_finish(db, lead_id, Outcome.BUSY, campaign, NOW)
    assert await rows(db) == []  # a retry is due: nothing to report yet
    await db.conn.execute("UPDATE leads SET due_at = ? WHERE id = ?", (NOW, lead_id))
    claim = await claim_and_finish(db, lead_id, Outcome.BUSY, campaign, NOW + 60)
    (message,) = await rows(db)
    body = message["payload"]
    assert message["state"] == "pending" and message["lead_id"] == lead_id
    assert message["idempotency_key"] == body["idempotency_key"]
    assert body["result"] == "exhausted" and body["attempts"] == 2 and body["closed"] is True
    assert body["order_id"] == "A-1" and body["lead"]["name"] == "Anna"
    assert body["amount"] == "1299.90" and body["amount_minor"] == 129990
    assert body["call_id"] == claim.call_id and body["recording_url"] is None
    assert body["result_at"] == "2027-01-15T08:01:00.000Z"


async def test_a_disposition_is_the_result_with_amount_operator_and_recording(db):
    lead_id = await store.insert_lead(
        db, store.NewLead(phone=Phone("+79161231001"), order_id="B-7", amount_minor=100000), NOW
    )
    claim = await claim_and_finish(db, lead_id, Outcome.ANSWERED, CampaignSettings(), NOW)
    async with db.transaction() as conn:  # what the API's disposition transaction does
        await conn.execute(
            "UPDATE attempts SET operator = '101', recording_path = '/rec/x.wav' WHERE id = ?",
            (claim.attempt_id,),
        )
        await conn.execute(
            "INSERT INTO dispositions (attempt_id, lead_id, result, amount_minor, note, flags,"
            " operator, created_at, wrapup_s) VALUES (?, ?, 'confirmed', 250000, 'two items',"
            " '[\"upsell\"]', '101', ?, 12.5)",
            (claim.attempt_id, lead_id, NOW + 30),
        )
        await conn.execute(
            "UPDATE leads SET close_reason = 'confirmed', closed_at = ? WHERE id = ?",
            (NOW + 30, lead_id),
        )
        await enqueue_result(conn, lead_id, NOW + 30)
        await enqueue_result(conn, lead_id, NOW + 31)  # the same result twice: one message
    (message,) = await rows(db)
    body = message["payload"]
    assert body["result"] == "confirmed" and body["amount"] == "2500.00"
    assert body["operator"] == "101" and body["flags"] == ["upsell"] and body["wrapup_s"] == 12.5
    assert body["recording_url"] == f"/api/v1/calls/{claim.call_id}/recording"
    assert body["recording_path"] == "/rec/x.wav" and body["note"] == "two items"


async def test_a_callback_then_exhaustion_reports_exhausted(db):
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone("+79161233001")), NOW)
    claim = await claim_and_finish(db, lead_id, Outcome.ANSWERED, CampaignSettings(), NOW)
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO dispositions (attempt_id, lead_id, result, callback_at, created_at)"
            " VALUES (?, ?, 'callback', ?, ?)",
            (claim.attempt_id, lead_id, NOW + 3600, NOW + 10),
        )
        await conn.execute(
            "UPDATE leads SET state = 'waiting', close_reason = NULL, closed_at = NULL,"
            " due_at = ? WHERE id = ?",
            (NOW + 3600, lead_id),
        )
        await enqueue_result(conn, lead_id, NOW + 10)
    # later the policy closes it on the way to a pick (its cap was lowered meanwhile)
    close = Close(CloseReason.EXHAUSTED)
    assert await attempts.claim_next(db, NOW + 7200, RANKS, lambda _lead: close) is None
    first, second = await rows(db)
    assert first["payload"]["result"] == "callback"
    assert second["payload"]["result"] == "exhausted"
    assert first["idempotency_key"] != second["idempotency_key"]


async def test_dnc_closes_enqueue_in_every_path(db, make_config):
    settings = make_config().settings
    waiting = await store.insert_lead(db, store.NewLead(phone=Phone("+74951234567")), NOW)
    assert await dnc.add(db, "+7495", "landlines", NOW) == 1
    assert [m["payload"]["result"] for m in await rows(db)] == ["dnc"]
    lead = validate_lead(LeadInput(phone="+7 495 765-43-21"), settings, NOW)
    result = await submit(db, lead, settings, NOW)
    assert isinstance(result, Accepted) and result.closed_as == "dnc"
    messages = await rows(db)
    assert [(m["lead_id"], m["payload"]["result"]) for m in messages] == [
        (waiting, "dnc"),
        (result.lead_id, "dnc"),
    ]


async def test_close_over_cap_enqueues_each_closed_lead(db):
    ids = [
        await store.insert_lead(db, store.NewLead(phone=Phone(f"+7916123400{n}")), NOW)
        for n in range(3)
    ]
    await db.conn.execute("UPDATE leads SET attempts = 3 WHERE id IN (?, ?)", (ids[0], ids[1]))
    assert await due.close_over_cap(db, {"default": 3}, 7, NOW) == 2
    assert sorted(m["lead_id"] for m in await rows(db)) == ids[:2]


async def test_a_lead_without_a_result_is_refused_and_nothing_is_written(db):
    lead_id = await store.insert_lead(db, store.NewLead(phone=Phone("+79161231001")), NOW)
    with pytest.raises(NothingToReport):
        async with db.transaction() as conn:
            await enqueue_result(conn, lead_id, NOW)
    assert await rows(db) == []


async def test_keys_differ_between_stores(tmp_path):
    from dialerd.store.db import open_store

    keys = []
    for name in ("a", "b"):
        async with open_store(tmp_path / f"{name}.sqlite3") as db:
            await store.insert_lead(db, store.NewLead(phone=Phone("+79161231001")), NOW)
            await dnc.add(db, "+7916", None, NOW)
            keys += [m["idempotency_key"] for m in await outbox.messages(db)]
    assert len(set(keys)) == 2  # lead 1 of a reinstalled dialerd is not lead 1 to the CRM


def test_the_readme_verification_example_accepts_dialerd_signatures():
    from pathlib import Path

    from dialerd.delivery.signing import sign

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = next(
        part.split("```", 1)[0]
        for part in readme.split("```python\n")[1:]
        if "def signed_by_dialerd" in part
    )
    namespace: dict = {}
    exec(block, namespace)  # the CRM side, exactly as documented
    body = b'{"type":"lead.result","result":"confirmed"}'
    check = namespace["signed_by_dialerd"]
    assert check(b"k3y", body, sign("k3y", body))
    assert not check(b"k3y", body + b" ", sign("k3y", body))
    assert not check(b"other", body, sign("k3y", body))
    assert not check(b"k3y", body, None)


async def _results(db, count):
    """``count`` leads closed as cancelled, each with its result in the outbox."""
    for n in range(count):
        lead_id = await store.insert_lead(db, store.NewLead(phone=Phone(f"+7916123{n:04d}")), NOW)
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE leads SET state = 'closed', close_reason = 'cancelled', closed_at = ?"
                " WHERE id = ?",
                (NOW, lead_id),
            )
            await enqueue_result(conn, lead_id, NOW)


async def test_workers_taking_messages_at_once_never_take_the_same_one(db):
    """Two daemons' CRM workers on one store: each message goes to one of them, so the CRM
    is never pushed one result twice because two workers raced."""
    await _results(db, 12)
    taken = await asyncio.gather(*(outbox.next_due(db, NOW, NOW + 60) for _ in range(16)))
    ids = [m.id for m in taken if m is not None]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert await outbox.next_due(db, NOW + 59, NOW + 120) is None  # all claimed till NOW + 60
    # a worker that died mid-try: its claim runs out and the message is due again
    assert await outbox.next_try_at(db) == NOW + 60
    again = await outbox.next_due(db, NOW + 60, NOW + 120)
    assert again is not None and again.id == min(ids)


async def test_a_recorded_try_ends_the_claim(db):
    await _results(db, 1)
    message = await outbox.next_due(db, NOW, NOW + 60)
    assert message is not None
    await outbox.record_try(db, message.id, "pending", NOW + 10, "HTTP 503", NOW + 1)
    assert await outbox.next_try_at(db) == NOW + 10  # the retry time, not the claim's end
    assert (await outbox.next_due(db, NOW + 10, NOW + 70)).id == message.id


async def test_alert_senders_taking_alerts_at_once_never_take_the_same_one(db):
    """The alerts' queue is claimed like the outbox: one alert, one sender."""
    async with db.transaction() as conn:
        for n in range(4):
            alert = Alert(Kind.COMPLAINT, f"complaint {n}", "text", (f"cause-{n}",))
            assert await alerts.raise_alert(conn, alert, ["webhook", "email"], NOW)
    taken = await asyncio.gather(*(alerts.next_due(db, NOW, NOW + 60) for _ in range(12)))
    ids = [a.id for a in taken if a is not None]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert await alerts.next_try_at(db) == NOW + 60
    await alerts.record_try(db, ids[0], "pending", NOW + 5, "HTTP 503", NOW + 1)
    assert await alerts.next_try_at(db) == NOW + 5
