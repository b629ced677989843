"""Operators' results and recordings over HTTP, on calls the engine really placed (simulator)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from support.api import settled

from dialerd.cli.main import main

pytestmark = pytest.mark.engines("sqlite", "postgresql")  # the daemon fixture's store

ANSWERS = "+79161231001"  # answers, talks 2 simulated s
BUSY = "+79161232001"
LONG = "+79161235001"  # answers, talks 30 simulated s (3 s here)


async def answered_call(api, phone: str = ANSWERS, **lead) -> tuple[int, str]:
    """A lead dialed and answered by the simulator; its id and the call's id."""
    created = await api.post("/api/v1/leads", json={"phone": phone, **lead})
    lead_id = created.json()["lead_id"]
    settled_lead = await settled(api, lead_id)
    (attempt,) = settled_lead["attempts"]
    assert attempt["outcome"] == "answered"
    return lead_id, attempt["call_id"]


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


async def test_confirmed_closes_the_lead_records_wrapup_and_a_retry_is_replayed(api):
    lead_id, call_id = await answered_call(api, order_id="A-1")
    await asyncio.sleep(0.3)  # the operator's wrap-up
    body = {"result": "confirmed", "amount": "1299.90", "operator": "101", "flags": ["upsell"]}
    response = await api.post(f"/api/v1/calls/{call_id}/disposition", json=body)
    assert response.status_code == 201
    recorded = response.json()
    wrapup, created_at = recorded.pop("wrapup_s"), recorded.pop("created_at")
    assert recorded == {
        "disposition_id": 1,
        "lead_id": lead_id,
        "call_id": call_id,
        "result": "confirmed",
        "amount": "1299.90",
        "at": None,
        "note": None,
        "flags": ["upsell"],
        "operator": "101",
        "lead_state": "closed",
        "close_reason": "confirmed",
        "replayed": False,
    }
    lead = (await api.get(f"/api/v1/leads/{lead_id}")).json()
    ended = datetime.fromisoformat(lead["attempts"][0]["ended_at"])
    assert 0.3 <= wrapup < 5
    assert datetime.fromisoformat(created_at) >= ended
    assert (lead["state"], lead["close_reason"]) == ("closed", "confirmed")
    assert lead["attempts"][0]["operator"] == "101"
    assert [d["result"] for d in lead["dispositions"]] == ["confirmed"]

    again = await api.post(f"/api/v1/calls/{call_id}/disposition", json=body)
    assert again.status_code == 200
    assert again.json() == {
        **recorded,
        "wrapup_s": wrapup,
        "created_at": created_at,
        "replayed": True,
    }

    other = await api.post(f"/api/v1/calls/{call_id}/disposition", json={"result": "refused"})
    assert other.status_code == 409
    assert other.json() == {
        "error": {
            "code": "disposition_exists",
            "message": "this call already has a result (confirmed) and it differs",
            "field": None,
        }
    }


async def test_a_result_goes_to_the_crm_outbox_in_the_same_transaction(api, daemon):
    lead_id, call_id = await answered_call(api, order_id="A-7")
    body = {"result": "confirmed", "amount": "450.00", "operator": "102"}
    assert (await api.post(f"/api/v1/calls/{call_id}/disposition", json=body)).status_code == 201
    assert (await api.post(f"/api/v1/calls/{call_id}/disposition", json=body)).status_code == 200
    rows = await daemon.rows(
        "SELECT idempotency_key, payload FROM outbox WHERE lead_id = ?", (lead_id,)
    )
    ((key, payload),) = rows  # the replayed POST adds no second message
    message = json.loads(payload)
    assert key.endswith("-d1")
    assert (message["result"], message["order_id"], message["amount"]) == (
        "confirmed",
        "A-7",
        "450.00",
    )


async def test_callback_reopens_the_lead_for_the_agreed_time_and_plan_shows_it(api, daemon, capsys):
    lead_id, call_id = await answered_call(api)
    when = at(timedelta(days=1))
    response = await api.post(
        f"/api/v1/calls/{call_id}/disposition",
        json={"result": "callback", "at": when, "note": "call after work"},
    )
    assert response.status_code == 201
    assert (response.json()["lead_state"], response.json()["at"]) == ("waiting", when)

    lead = (await api.get(f"/api/v1/leads/{lead_id}")).json()
    assert (lead["state"], lead["callback_at"], lead["due_at"]) == ("waiting", when, when)
    explained = (await api.get(f"/api/v1/leads/{lead_id}/explain")).json()
    assert (explained["tier"], explained["callable"], explained["due_at"]) == (
        "callback",
        False,
        when,
    )
    assert explained["reason"].startswith("callback agreed for ")

    capsys.readouterr()
    code = await asyncio.to_thread(
        main, ["plan", "--config", str(daemon.config), "--format", "json"]
    )
    assert code == 0
    (planned,) = [d for d in json.loads(capsys.readouterr().out) if d["lead_id"] == lead_id]
    assert (planned["tier"], planned["callable"], planned["due_at"]) == ("callback", False, when)

    await asyncio.sleep(0.3)
    assert len((await api.get(f"/api/v1/leads/{lead_id}")).json()["attempts"]) == 1  # not yet


async def test_a_callback_that_comes_due_is_dialed(api):
    lead_id, call_id = await answered_call(api)
    response = await api.post(
        f"/api/v1/calls/{call_id}/disposition",
        json={"result": "callback", "at": at(timedelta(seconds=2))},
    )
    assert response.status_code == 201
    async with asyncio.timeout(10):
        while len((await api.get(f"/api/v1/leads/{lead_id}")).json()["attempts"]) < 2:
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("result", ["refused", "fake", "duplicate", "wrong_number", "complaint"])
async def test_a_final_result_closes_the_lead_with_that_reason(api, result):
    lead_id, call_id = await answered_call(api)
    response = await api.post(f"/api/v1/calls/{call_id}/disposition", json={"result": result})
    assert response.status_code == 201
    lead = (await api.get(f"/api/v1/leads/{lead_id}")).json()
    assert (lead["state"], lead["close_reason"]) == ("closed", result)


async def test_no_decision_leaves_the_lead_as_the_answered_rule_left_it(api):
    lead_id, call_id = await answered_call(api)
    response = await api.post(
        f"/api/v1/calls/{call_id}/disposition", json={"result": "no_decision", "note": "thinking"}
    )
    assert response.status_code == 201
    assert (response.json()["lead_state"], response.json()["close_reason"]) == ("closed", "reached")


async def test_calls_that_cannot_take_a_result(api):
    busy_lead = (await api.post("/api/v1/leads", json={"phone": BUSY})).json()["lead_id"]
    busy_call = (await settled(api, busy_lead))["attempts"][0]["call_id"]
    response = await api.post(f"/api/v1/calls/{busy_call}/disposition", json={"result": "refused"})
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": {
                "code": "not_answered",
                "message": "only an answered call takes a result (this one: busy)",
                "field": None,
            }
        },
    )

    long_lead = (await api.post("/api/v1/leads", json={"phone": LONG})).json()["lead_id"]
    async with asyncio.timeout(5):
        while not (attempts := (await api.get(f"/api/v1/leads/{long_lead}")).json()["attempts"]):
            await asyncio.sleep(0.05)
    response = await api.post(
        f"/api/v1/calls/{attempts[0]['call_id']}/disposition", json={"result": "refused"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, "call_in_progress")

    response = await api.post("/api/v1/calls/dialerd-9-9-nope/disposition", json={"result": "fake"})
    assert (response.status_code, response.json()) == (
        404,
        {"error": {"code": "not_found", "message": "no call dialerd-9-9-nope", "field": None}},
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"result": "confirmed"}, "amount", "is required for a confirmed order"),
        (
            {"result": "refused", "amount": 10},
            "amount",
            "only a confirmed result carries an amount",
        ),
        ({"result": "callback"}, "at", "is required for a callback"),
        ({"result": "callback", "at": "2020-01-01T10:00:00+03:00"}, "at", "is in the past"),
        ({"result": "refused", "at": "2099-01-01T10:00"}, "at", "only a callback carries a time"),
        (
            {"result": "maybe"},
            "result",
            "input should be 'confirmed', 'callback', 'refused', "
            "'fake', 'duplicate', 'wrong_number', 'complaint' or 'no_decision'",
        ),
        (
            {"result": "refused", "flags": ["Up Sell"]},
            "flags",
            "'Up Sell': use 1-32 lowercase letters, digits, '_' or '-'",
        ),
        (
            {"result": "refused", "operator": "101\r\nAction: Hangup"},
            "operator",
            "contains a control character (CR, LF, NUL, ...)",
        ),
    ],
)
async def test_a_bad_result_is_refused_naming_the_field_and_changes_nothing(
    api, daemon, body, field, message
):
    lead_id, call_id = await answered_call(api)
    response = await api.post(f"/api/v1/calls/{call_id}/disposition", json=body)
    assert (response.status_code, response.json()) == (
        422,
        {"error": {"code": "invalid", "message": message, "field": field}},
    )
    assert await daemon.rows("SELECT COUNT(*) FROM dispositions") == [(0,)]
    assert (await api.get(f"/api/v1/leads/{lead_id}")).json()["close_reason"] == "reached"


async def test_a_callback_past_the_attempt_cap_is_refused(tmp_path):
    from support.api import http_daemon

    extra = {"campaigns": {"default": {"max_attempts": 1}}}
    async with http_daemon(tmp_path, extra=extra) as daemon, daemon.client() as api:
        _, call_id = await answered_call(api)
        response = await api.post(
            f"/api/v1/calls/{call_id}/disposition",
            json={"result": "callback", "at": at(timedelta(hours=1))},
        )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "attempt_cap_reached"


async def test_the_recording_is_streamed_and_missing_ones_are_404(api, daemon):
    _, call_id = await answered_call(api)
    missing = await api.get(f"/api/v1/calls/{call_id}/recording")
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "error": {
                "code": "no_recording",
                "message": f"call {call_id} has no recording",
                "field": None,
            }
        },
    )
    audio = b"RIFF" + bytes(range(256)) * 64  # what MixMonitor(${UNIQUEID}.wav) leaves behind
    (daemon.recordings / f"{call_id}.wav").write_bytes(audio)
    response = await api.get(f"/api/v1/calls/{call_id}/recording")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == audio
    lead = (await api.get(f"/api/v1/leads/{_}/explain")).json()
    assert lead["attempt_history"][0]["call_id"] == call_id

    unknown = await api.get("/api/v1/calls/dialerd-1-9-unknown/recording")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("stored", ["../secret.wav", "{outside}/secret.wav", "link.wav"])
async def test_a_recording_path_outside_the_directory_is_never_served(api, daemon, stored):
    outside = daemon.recordings.parent / "outside"
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"secret")
    (daemon.recordings.parent / "secret.wav").write_bytes(b"secret")
    (daemon.recordings / "link.wav").symlink_to(outside / "secret.wav")
    _, call_id = await answered_call(api)
    await daemon.rows(  # a row written by an older version, or tampered
        "UPDATE attempts SET recording_path = ? WHERE call_id = ?",
        (stored.format(outside=outside), call_id),
    )
    response = await api.get(f"/api/v1/calls/{call_id}/recording")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "no_recording")


async def test_a_lead_shows_what_answering_machine_detection_said(api, daemon):
    """AMD's verdict is Asterisk's (tests/integration/test_amd.py); the API shows it as kept."""
    lead_id, call_id = await answered_call(api)
    async with daemon.parts.db.transaction() as conn:
        await conn.execute(
            "UPDATE attempts SET amd_status = 'HUMAN', amd_cause = 'HUMAN-800-800'"
            " WHERE call_id = ?",
            (call_id,),
        )
    (attempt,) = (await api.get(f"/api/v1/leads/{lead_id}")).json()["attempts"]
    assert (attempt["amd_status"], attempt["amd_cause"]) == ("HUMAN", "HUMAN-800-800")
