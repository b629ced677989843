"""The console's event stream, message by message: an offer becomes a card for that operator
only; the end of the call decides whether the card stays for a result; a saved result takes
it away; a page too slow to read is dropped, never buffered without bound."""

from __future__ import annotations

import asyncio

from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.dialer.board import CurrentCall, OperatorBoard
from dialerd.dialer.events import OfferMissed
from dialerd.domain import FinishedCall, Outcome
from dialerd.pbx.events import DeviceState
from dialerd.web.hub import QUEUE_LIMIT, Hub


def board() -> OperatorBoard:
    return OperatorBoard(
        [
            OperatorSettings(name="anna", group="desk", device="PJSIP/201"),
            OperatorSettings(name="boris", group="desk", device="PJSIP/202"),
        ],
        {"desk": GroupSettings()},
    )


def hub_on(live: OperatorBoard) -> Hub:
    async def cards(call_id: str, operator: str):
        return 7, f"<article data-call-id={call_id!r}>card of {operator}</article>"

    async def counts(operator: str):
        return {"v": 1, "type": "counts", "calls": 0}

    async def awaiting(operator: str):
        return None

    hub = Hub(lambda: live, cards, counts, awaiting, lambda: True, lambda: 1000.0)
    live.on_change = hub.on_operator
    return hub


def drain(queue: asyncio.Queue) -> list[dict]:
    found = []
    while not queue.empty():
        found.append(queue.get_nowait())
    return found


def finished(call_id: str, outcome: Outcome, operator: str = "anna") -> FinishedCall:
    return FinishedCall(
        attempt_id=1, lead_id=7, call_id=call_id, outcome=outcome, reason_code=None,
        hangup_cause=None, answered_at=None, ended_at=1010.0, ring_s=None, talk_s=None,
        operator=operator,
    )  # fmt: skip


async def test_an_offer_is_a_card_for_that_operator_only_and_stays_for_the_result():
    live = board()
    hub = hub_on(live)
    anna, boris = hub.subscribe("anna", "operator"), hub.subscribe("boris", "operator")
    boss = hub.subscribe("olga", "supervisor")
    live.apply_device(DeviceState("PJSIP/201", "NOT_INUSE", 999.0))
    live.reserve("anna", CurrentCall(7, "call-1", "agent_first", 1000.0))
    await asyncio.sleep(0.01)
    kinds = [m["type"] for m in drain(anna.queue)]
    assert "card" in kinds and [m["presence"] for m in drain(boss.queue)][-1] == "ringing"
    assert drain(boris.queue) == []  # nothing of anna's reaches boris
    hub.on_engine_event(finished("call-1", Outcome.ANSWERED))
    live.release("call-1")
    (ended,) = [m for m in drain(anna.queue) if m["type"] == "ended"]
    assert ended["outcome"] == "answered"
    hello = await hub.hello("anna", "operator")
    assert hello["card"]["call_id"] == "call-1" and hello["card"]["ended"] is True
    hub.forget_card("anna", "call-1", "confirmed")
    assert (await hub.hello("anna", "operator"))["card"] is None
    await hub.close()


async def test_a_missed_offer_or_an_unanswered_customer_leaves_no_card():
    live = board()
    hub = hub_on(live)
    anna = hub.subscribe("anna", "operator")
    live.reserve("anna", CurrentCall(7, "call-2", "agent_first", 1000.0))
    await asyncio.sleep(0.01)
    hub.on_engine_event(OfferMissed(7, "call-2", "anna", "did not answer", 1005.0))
    live.release("call-2")
    messages = drain(anna.queue)
    assert any(m["type"] == "ended" and m["outcome"] == "missed" for m in messages)
    assert (await hub.hello("anna", "operator"))["card"] is None
    live.reserve("anna", CurrentCall(8, "call-3", "agent_first", 1006.0))
    await asyncio.sleep(0.01)
    hub.on_engine_event(finished("call-3", Outcome.BUSY))
    live.release("call-3")
    assert (await hub.hello("anna", "operator"))["card"] is None
    await hub.close()


async def test_a_page_that_stops_reading_is_dropped_and_its_stream_ends():
    live = board()
    hub = hub_on(live)
    slow = hub.subscribe("olga", "supervisor")
    for n in range(QUEUE_LIMIT + 5):
        live.apply_device(DeviceState("PJSIP/201", "INUSE" if n % 2 else "NOT_INUSE", 1000.0 + n))
    assert hub.subscribers == 0
    last = drain(slow.queue)[-1]
    assert last is None  # the stream's end: the page reconnects and starts from hello
    await hub.close()
