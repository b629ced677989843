"""Leads in over HTTP: single, batch, both duplicate rules, idempotent retries, bad input."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from support.api import settled

from dialerd.store import sql

pytestmark = pytest.mark.engines("sqlite", "postgresql")  # the daemon fixture's store

ANSWERS = "+79161231001"  # the simulator answers (4th digit from the end: 1)
BUSY = "+79161232001"


async def count_leads(daemon) -> int:
    ((n,),) = await daemon.rows("SELECT COUNT(*) FROM leads")
    return int(n)


async def test_a_lead_is_stored_normalised_and_dialed_at_once(api):
    response = await api.post(
        "/api/v1/leads",
        json={
            "phone": "8 (916) 123-10-01",
            "order_id": "A-1001",
            "name": "Anna",
            "amount": "1299.90",
            "items": [{"sku": "KB-1", "qty": 2}],
            "comment": "after 18:00",
            "metadata": {"utm_source": "ads"},
        },
    )
    assert response.status_code == 201
    assert response.json() == {"lead_id": 1, "state": "waiting", "close_reason": None}
    lead = await settled(api, 1, timeout_s=5)  # dialed without any poll interval to wait for
    assert {k: lead[k] for k in ("phone", "order_id", "name", "amount", "items", "metadata")} == {
        "phone": ANSWERS,
        "order_id": "A-1001",
        "name": "Anna",
        "amount": "1299.90",
        "items": [{"sku": "KB-1", "qty": 2}],
        "metadata": {"utm_source": "ads"},
    }
    assert lead["source"] == "api"
    assert [(a["number"], a["outcome"]) for a in lead["attempts"]] == [(1, "answered")]
    assert (lead["state"], lead["close_reason"]) == ("closed", "reached")


async def test_batch_answers_each_item_in_order_and_keeps_the_good_ones(api, daemon):
    await api.post("/api/v1/leads", json={"phone": BUSY, "order_id": "B-1"})
    response = await api.post(
        "/api/v1/leads/batch",
        json={
            "leads": [
                {"phone": "+7 916 123-30-01", "order_id": "B-2"},
                {"phone": "+7 916 12"},
                {"phone": BUSY, "order_id": "B-1"},  # duplicate of lead 1 in the store
                {"phone": 79161233002},
                {"phone": "+79161233003", "order_id": "B-3", "colour": "red"},
                {"phone": "+79161233004", "order_id": "B-4"},
                {"phone": "+7 916 123 3004", "order_id": "B-4"},  # duplicate within the batch
                "not an object",
            ]
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"index": 0, "status": 201, "lead_id": 2, "state": "waiting", "close_reason": None},
            {
                "index": 1,
                "status": 422,
                "error": {
                    "code": "invalid",
                    "message": "is not a valid number for its country",
                    "field": "phone",
                },
            },
            {
                "index": 2,
                "status": 409,
                "duplicate_of": 1,
                "rule": "phone_and_order",
                "error": {
                    "code": "duplicate",
                    "message": "duplicate of lead 1 (rule phone_and_order)",
                    "field": None,
                },
            },
            {
                "index": 3,
                "status": 422,
                "error": {"code": "invalid", "message": "must be a string", "field": "phone"},
            },
            {
                "index": 4,
                "status": 422,
                "error": {"code": "invalid", "message": "is not a known field", "field": "colour"},
            },
            {"index": 5, "status": 201, "lead_id": 3, "state": "waiting", "close_reason": None},
            {
                "index": 6,
                "status": 409,
                "duplicate_of": 3,
                "rule": "phone_and_order",
                "error": {
                    "code": "duplicate",
                    "message": "duplicate of lead 3 (rule phone_and_order)",
                    "field": None,
                },
            },
            {
                "index": 7,
                "status": 422,
                "error": {"code": "invalid", "message": "must be a JSON object", "field": None},
            },
        ],
        "accepted": 2,
        "duplicates": 2,
        "rejected": 4,
    }
    assert await count_leads(daemon) == 3


async def test_rule_phone_and_order_a_new_order_from_the_same_phone_is_a_new_lead(api):
    first = await api.post("/api/v1/leads", json={"phone": BUSY, "order_id": "A-1"})
    again = await api.post("/api/v1/leads", json={"phone": "8 916 123 20 01", "order_id": "A-1"})
    other = await api.post("/api/v1/leads", json={"phone": BUSY, "order_id": "A-2"})
    assert first.status_code == 201 and other.status_code == 201
    assert other.json()["lead_id"] == 2
    assert again.status_code == 409
    assert again.json() == {
        "duplicate_of": 1,
        "rule": "phone_and_order",
        "error": {
            "code": "duplicate",
            "message": "duplicate of lead 1 (rule phone_and_order)",
            "field": None,
        },
    }


async def test_rule_phone_window_blocks_any_lead_from_the_phone_within_the_window(api):
    first = await api.post("/api/v1/leads", json={"phone": BUSY, "campaign": "web"})
    again = await api.post(
        "/api/v1/leads", json={"phone": BUSY, "campaign": "web", "order_id": "other"}
    )
    elsewhere = await api.post("/api/v1/leads", json={"phone": BUSY})  # default campaign
    assert first.status_code == 201 and elsewhere.status_code == 201
    assert again.status_code == 409
    assert again.json()["duplicate_of"] == first.json()["lead_id"]
    assert again.json()["rule"] == "phone_window"


async def test_a_retried_post_with_the_same_key_gets_the_first_answer(api, daemon):
    lead = {"phone": BUSY, "order_id": "K-1"}
    first = await api.post("/api/v1/leads", json=lead, headers={"Idempotency-Key": "order-K-1"})
    retry = await api.post("/api/v1/leads", json=lead, headers={"Idempotency-Key": "order-K-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() == {"lead_id": 1, "state": "waiting", "close_reason": None}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count_leads(daemon) == 1  # not even a duplicate row: the answer was replayed

    changed = await api.post(
        "/api/v1/leads",
        json={**lead, "name": "someone else"},
        headers={"Idempotency-Key": "order-K-1"},
    )
    assert changed.status_code == 422
    assert changed.json() == {
        "error": {
            "code": "idempotency_key_reused",
            "message": "this Idempotency-Key was used for a different request; use a new key",
            "field": "Idempotency-Key",
        }
    }
    # keys belong to a token: the console's "order-K-1" is its own request (here a duplicate)
    async with daemon.client("console") as console:
        other = await console.post(
            "/api/v1/leads", json=lead, headers={"Idempotency-Key": "order-K-1"}
        )
    assert other.status_code == 409


async def test_concurrent_retries_with_one_key_make_one_lead(api, daemon):
    lead = {"phone": BUSY, "order_id": "C-1"}
    answers = await asyncio.gather(
        *(
            api.post("/api/v1/leads", json=lead, headers={"Idempotency-Key": "same"})
            for _ in range(8)
        )
    )
    assert {(a.status_code, a.json()["lead_id"]) for a in answers} == {(201, 1)}
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
    assert await count_leads(daemon) == 1


async def test_a_retry_is_replayed_even_once_its_callback_time_has_passed(api, daemon):
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    lead = {"phone": BUSY, "callback_at": soon}
    first = await api.post("/api/v1/leads", json=lead, headers={"Idempotency-Key": "cb"})
    await asyncio.sleep(1.2)
    retry = await api.post("/api/v1/leads", json=lead, headers={"Idempotency-Key": "cb"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    unkeyed = await api.post("/api/v1/leads", json=lead)
    assert unkeyed.status_code == 422
    assert unkeyed.json()["error"]["field"] == "callback_at"


async def test_batch_with_a_key_is_replayed_whole(api, daemon):
    body = {"leads": [{"phone": BUSY}, {"phone": "bad"}]}
    first = await api.post("/api/v1/leads/batch", json=body, headers={"Idempotency-Key": "b-1"})
    retry = await api.post("/api/v1/leads/batch", json=body, headers={"Idempotency-Key": "b-1"})
    assert retry.json() == first.json()
    assert first.json()["accepted"] == 1
    assert await count_leads(daemon) == 1


def _error(field, message, code="invalid"):
    return {"error": {"code": code, "message": message, "field": field}}


PAST = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (
            {"phone": "+7 916 123"},
            422,
            _error("phone", "is not a valid number for its country"),
        ),
        (
            {"phone": "+79161231001\r\nAction: Originate"},
            422,
            _error("phone", "may contain only digits, spaces, '+', '-', '.', '(' and ')'"),
        ),
        (
            {"phone": ANSWERS, "name": "Anna\r\nAction: Hangup"},
            422,
            _error("name", "contains a control character (CR, LF, NUL, ...)"),
        ),
        ({"phone": ANSWERS, "callback_at": PAST}, 422, _error("callback_at", "is in the past")),
        (
            {"phone": ANSWERS, "callback_at": "tomorrow at 3"},
            422,
            _error(
                "callback_at", "'tomorrow at 3' is not an ISO 8601 time such as 2026-11-24T15:30"
            ),
        ),
        (
            {"phone": ANSWERS, "campaign": "nope"},
            422,
            _error("campaign", "unknown campaign 'nope' (configured: default, web)"),
        ),
        ({"phone": 79161231001}, 422, _error("phone", "must be a string")),
        ({"order_id": "A-1"}, 422, _error("phone", "is required")),
        (
            {"phone": ANSWERS, "amount": "12.345"},
            422,
            _error("amount", "has more than two decimal places"),
        ),
        (
            {"phone": ANSWERS, "amount": True},
            422,
            _error("amount", 'must be a number or a decimal string such as "1299.90"'),
        ),
        ({"phone": ANSWERS, "metadata": [1]}, 422, _error("metadata", "must be a JSON object")),
        ({"phone": ANSWERS, "items": {"a": 1}}, 422, _error("items", "must be a JSON array")),
        ({"phone": ANSWERS, "phon": "x"}, 422, _error("phon", "is not a known field")),
        (
            {"phone": ANSWERS, "name": "x" * 201},
            422,
            _error("name", "string should have at most 200 characters"),
        ),
        (
            {"phone": ANSWERS, "metadata": {"blob": "x" * 20000}},
            422,
            _error("metadata", "is larger than 16384 bytes of JSON (api.max_json_field_bytes)"),
        ),
        ([{"phone": ANSWERS}], 422, _error(None, "must be a JSON object")),
    ],
)
async def test_a_bad_lead_is_refused_naming_the_field_and_nothing_is_stored(
    api, daemon, body, status, answer
):
    response = await api.post("/api/v1/leads", json=body)
    assert (response.status_code, response.json()) == (status, answer)
    assert await count_leads(daemon) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"phone": "+79161231001"',
            "not valid JSON: Expecting ',' delimiter (line 1, column 25)",
        ),
        (b"", "the request body is empty; JSON expected"),
        (b'{"phone": NaN}', "not acceptable JSON: NaN is not a JSON number"),
        (
            b'{"phone": "+79161231001", "amount": 1e999}',
            "not acceptable JSON: 1e999 is out of range",
        ),
        (b'{"phone": "\xff"}', "the body is not valid UTF-8 text"),
        (b'{"phone": "\\ud800"}', "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)"),
    ],
)
async def test_malformed_json_is_a_400_with_the_reason(api, daemon, content, message):
    response = await api.post(
        "/api/v1/leads", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == _error(None, message, code="malformed_json")
    assert await count_leads(daemon) == 0


async def test_a_lead_on_the_do_not_call_list_is_stored_closed_and_never_dialed(api, daemon):
    from dialerd.cli.main import main

    assert (
        await asyncio.to_thread(main, ["dnc", "add", "+7 916 123", "--config", str(daemon.config)])
        == 0
    )
    response = await api.post("/api/v1/leads", json={"phone": ANSWERS})
    assert (response.status_code, response.json()) == (
        201,
        {"lead_id": 1, "state": "closed", "close_reason": "dnc"},
    )
    await asyncio.sleep(0.3)
    lead = (await api.get("/api/v1/leads/1")).json()
    assert (lead["state"], lead["close_reason"], lead["attempts"]) == ("closed", "dnc", [])
    assert daemon.sim.originates == []


async def test_batch_stores_free_form_json_exactly_as_sent(api, daemon):
    """items and metadata are encoded once (for their size check) and stored as that text."""
    items = [{"sku": "ЧАЙ-1", "qty": 2, "opts": [None, True, 1.5, {"deep": ["x"]}]}]
    metadata = {"utm": "ads", "note": 'tab\tquote" é', "n": [1, 2]}
    response = await api.post(
        "/api/v1/leads/batch",
        json={
            "leads": [
                {"phone": "+7 916 123-30-11", "items": items, "metadata": metadata},
                {"phone": "+7 916 123-30-12", "items": [], "metadata": {}},
                {"phone": "+7 916 123-30-13"},
            ]
        },
    )
    assert [r["status"] for r in response.json()["results"]] == [201, 201, 201]
    rows = await daemon.rows("SELECT items, metadata FROM leads ORDER BY id")
    assert rows == [
        (json.dumps(items), json.dumps(metadata)),
        ("[]", "{}"),
        (None, None),
    ]
    lead = (await api.get("/api/v1/leads/1")).json()
    assert (lead["items"], lead["metadata"]) == (items, metadata)


@pytest.mark.engines("postgresql")
async def test_an_intake_commit_rolled_back_to_break_a_deadlock_is_tried_again(api, daemon):
    """A claim holding the lead a new duplicate points at, while wanting intake's lock: the
    server breaks the deadlock by rolling intake back, and intake commits again."""
    first = await api.post("/api/v1/leads", json={"phone": BUSY, "order_id": "D-1"})
    lead_id = first.json()["lead_id"]
    async with daemon.parts.db.transaction() as blocker:
        await sql.run(blocker, "SELECT id FROM leads WHERE id = ? FOR UPDATE", (lead_id,))
        again = asyncio.create_task(
            api.post("/api/v1/leads", json={"phone": BUSY, "order_id": "D-1"})
        )
        await asyncio.sleep(0.3)  # intake waits for the lead its duplicates row points at
        await sql.run(blocker, "SELECT pg_advisory_xact_lock(hashtext('dialerd.intake'))")
    response = await again
    assert response.status_code == 409, response.text  # a duplicate, answered as one
    assert response.json()["duplicate_of"] == lead_id
    assert await daemon.rows("SELECT COUNT(*) FROM duplicates") == [(1,)]
    assert await count_leads(daemon) == 1
