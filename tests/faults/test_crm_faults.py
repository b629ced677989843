"""The shop's CRM slow (10 s answers) and then flapping (500s, connection refused, success),
while the daemon dials and operators record their results.

Results are what an operator records through the API (``POST /api/v1/calls/{call_id}/
disposition``) as each answered call ends; each becomes one outbox message pushed to the
CRM webhook (a real local HTTP server checking every signature). The daemon gives up on a
try after ``crm.timeout_s`` (8 s): a slow answer has been processed by the CRM but looks
failed, so it is sent again -- with the same ``Idempotency-Key``, which is how the CRM
keeps it once.

Asserted: dialing keeps its pace while the CRM is slow (a freed line is used again at
once), every result reaches the CRM exactly once by idempotency key (the same bytes each
time), nothing is lost, and the ledger has no disagreements.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import defaultdict

import httpx
import pytest
from faultkit import (
    ANSWERS_2S,
    BUSY,
    RING_3S_TALK_4S,
    TALK_6S,
    Dialerd,
    loops,
    phones,
    rng_for,
    settle,
    shuffled,
)
from ledger import compare
from support.callwatch import CallWatch
from support.webhook import WebhookServer

pytestmark = [pytest.mark.faults, pytest.mark.asterisk]

CRM_SECRET = "crm-fault-suite-hmac"
TOKEN = "crm-fault-suite-token-0123456789"
MIX = {ANSWERS_2S: 8, TALK_6S: 3, RING_3S_TALK_4S: 2, BUSY: 2}
LINES = 4
SLOW_S, FLAP_S, FLAP_STEP_S = 10.5, 4.5, 1.0
REFILL_WITHIN_S = 1.5
RESULTS = itertools.cycle(
    [{"result": "confirmed", "amount": "1299.90", "operator": "101"}, {"result": "refused"}]
)


class Operators:
    """Records a result for every answered call once it has ended, as operators do."""

    def __init__(self, daemon: Dialerd, api: str) -> None:
        self.daemon = daemon
        self.client = httpx.AsyncClient(
            base_url=api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        self.posted: dict[str, int] = {}  # call_id -> HTTP status
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Operators:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.client.aclose()

    def pending(self) -> list[str]:
        rows = self.daemon.rows(
            "SELECT call_id FROM attempts WHERE status = 'done' AND outcome = 'answered'"
        )
        return [r["call_id"] for r in rows if r["call_id"] not in self.posted]

    async def _run(self) -> None:
        while True:
            for call_id in self.pending():
                reply = await self.client.post(
                    f"/api/v1/calls/{call_id}/disposition", json=next(RESULTS)
                )
                self.posted[call_id] = reply.status_code
            await asyncio.sleep(0.3)


async def flap(crm: WebhookServer, until: float) -> None:
    """500, refused (down), 200, ... every FLAP_STEP_S until ``until``; ends up and 200."""
    for step in itertools.cycle(["500", "down", "200"]):
        if time.monotonic() >= until:
            break
        if step == "down":
            await crm.stop()
        else:
            if crm._server is None:
                await crm.start()
            crm.answer = int(step)
        await asyncio.sleep(FLAP_STEP_S)
    if crm._server is None:
        await crm.start()
    crm.answer = 200


def refill_latencies(watch: CallWatch, numbers: set[str], start: float, end: float) -> list[float]:
    """For each of these calls ending in [start, end] while later ones were still to come:
    how long until the next customer channel (the freed line taken again)."""
    calls = sorted(
        (c for c in watch.calls.values() if c.number in numbers), key=lambda c: c.created_at
    )
    found = []
    for call in calls:
        if call.ended_at is None or not start <= call.ended_at <= end:
            continue
        later = [c.created_at for c in calls if c.created_at >= call.ended_at]
        if later:
            found.append(later[0] - call.ended_at)
    return found


async def test_crm_slow_then_flapping(tmp_path, pbx, watch, fault_report):
    rng = rng_for("crm")
    problems: list[str] = []
    async with WebhookServer(secret=CRM_SECRET) as crm:
        daemon = Dialerd(
            tmp_path,
            pbx,
            tmp_path / "dialerd.sqlite3",
            pbx.port,
            extra={
                "dialing": {"max_concurrent_calls": LINES},
                "crm": {
                    "url": crm.url,
                    "timeout_s": 8,
                    "max_tries": 1000,
                    "backoff_initial_s": 0.5,
                    "backoff_max_s": 2,
                },
                "api": {"enabled": True, "port": 0},
            },
            env={"DIALERD_CRM__SECRET": CRM_SECRET, "DIALERD_API__TOKENS__CRM": TOKEN},
        )
        await daemon.migrate()
        try:
            await daemon.start()
            api = (await daemon.wait_event("api_started", within_s=10))["url"]
            async with Operators(daemon, api) as operators:
                for loop in range(1, loops() + 1):
                    numbers = shuffled(phones(500 + loop, MIX), rng)
                    digits = {n.lstrip("+") for n in numbers}
                    crm.delay_s = 10.0  # 1: slow
                    slow_from = time.time()
                    await daemon.add_leads(numbers)
                    await asyncio.sleep(SLOW_S + rng.uniform(0.0, 0.5))
                    slow_to = time.time()
                    crm.delay_s = 0.0
                    await flap(crm, time.monotonic() + FLAP_S)  # 2: flapping
                    unsettled = await settle(daemon, lambda: len(watch.live()), within_s=30)
                    if unsettled:
                        problems.append(f"loop {loop}: {unsettled}")
                    undelivered = await delivered_all(daemon, operators, within_s=20)
                    if undelivered:
                        problems.append(f"loop {loop}: {undelivered}")
                    latencies = refill_latencies(watch, digits, slow_from, slow_to)
                    if max(latencies, default=0.0) > REFILL_WITHIN_S:
                        problems.append(
                            f"loop {loop}: while the CRM was slow a freed line waited up to"
                            f" {max(latencies):.1f} s for the next call"
                            f" ({[round(x, 2) for x in latencies]})"
                        )
                    ledger = compare(daemon.store_path, watch, log=pbx.log_path, only=digits)
                    fault_report(
                        f"faults: crm-{loop} attempts={ledger.attempts} faults=2"
                        f" disagreements={len(ledger.disagreements)}"
                        f" results={len(operators.posted)} crm_requests={len(crm.received)}"
                        f" refill_max_s={max(latencies, default=0.0):.2f}"
                        + (f" {ledger.by_reason()}" if ledger.disagreements else "")
                    )
                    if ledger.disagreements:
                        problems.append(f"loop {loop}: {ledger.report()}")
        finally:
            await daemon.stop()
    problems += exactly_once(daemon, operators, crm)
    assert not problems, "\n".join(problems)


async def delivered_all(daemon: Dialerd, operators: Operators, within_s: float) -> str | None:
    """Wait until every answered call has its result and every result reached the CRM."""
    deadline = time.monotonic() + within_s
    while True:
        left = daemon.scalar("SELECT COUNT(*) FROM outbox WHERE state != 'delivered'")
        waiting = operators.pending()
        if not left and not waiting:
            return None
        if time.monotonic() > deadline:
            return (
                f"after {within_s:.0f} s: {left} results not delivered to the CRM,"
                f" {len(waiting)} answered calls without a result"
            )
        await asyncio.sleep(0.2)


def exactly_once(daemon: Dialerd, operators: Operators, crm: WebhookServer) -> list[str]:
    problems = []
    refused = {c: s for c, s in operators.posted.items() if s not in (200, 201)}
    if refused:
        problems.append(f"results refused by the API: {refused}")
    dispositions = daemon.rows(
        "SELECT d.id, a.call_id FROM dispositions d JOIN attempts a ON a.id = d.attempt_id"
    )
    recorded = {r["call_id"] for r in dispositions}
    lost = {c for c, s in operators.posted.items() if s in (200, 201)} - recorded
    if lost:
        problems.append(f"results answered 201 but not in the store: {sorted(lost)}")
    outbox = daemon.rows("SELECT idempotency_key, payload, state FROM outbox")
    keys = {r["idempotency_key"] for r in outbox}
    expected = {f"-d{r['id']}" for r in dispositions}
    if {k[k.rindex("-") :] for k in keys} != expected or len(keys) != len(outbox):
        problems.append(
            f"{len(outbox)} outbox messages for {len(dispositions)} results: one message each"
        )
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in crm.received:
        bodies[request.key or "(none)"].add(request.body)
    delivered = {r.key for r in crm.delivered()}
    if delivered != keys:
        problems.append(
            f"delivered keys differ from the outbox: missing {sorted(keys - delivered)},"
            f" unknown {sorted(k or '(none)' for k in delivered - keys)}"
        )
    payloads = {r["idempotency_key"]: r["payload"].encode() for r in outbox}
    for key, seen in bodies.items():
        if len(seen) != 1 or (key in payloads and seen != {payloads[key]}):
            problems.append(f"{key}: the CRM received {len(seen)} different bodies")
    if not all(r.signature_ok for r in crm.received):
        problems.append("a request to the CRM had a bad signature")
    return problems
