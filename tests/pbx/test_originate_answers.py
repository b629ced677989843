"""The Originate's answer as the engine hears of it: once, in time, or the call told lost."""

import asyncio

import pytest

from dialerd.config import AmiSettings
from dialerd.pbx import ami
from dialerd.pbx.actions import OriginateRequest
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.events import OriginateLost, OriginateResult, PbxConnected
from dialerd.pbx.sim.server import AmiSimulator

SECRET = "sim-secret"


def request(n: int, phone: str, timeout_s: float) -> OriginateRequest:
    return OriginateRequest(
        call_id=f"dialerd-{n}-1-test",
        action_id=f"orig-{n}-1-test",
        channel=f"Local/{phone}@customers",
        context="operators",
        exten="s",
        priority=1,
        timeout_s=timeout_s,
    )


async def told(pbx: AmiPbx, seconds: float) -> list[object]:
    """The events the engine would take in ``seconds``, the link's own left out."""
    seen: list[object] = []
    async with asyncio.timeout(seconds + 1):
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                async with asyncio.timeout(left):
                    event = await pbx.events.get()
            except TimeoutError:
                break
            if not isinstance(event, PbxConnected):
                seen.append(event)
    return seen


async def test_each_originate_is_answered_once_and_one_with_no_answer_in_time_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A busy customer's answer comes at once and is told once; a customer still ringing
    when the answer's time is up (ring timeout + margin, shortened here) is told lost, so
    the engine asks Asterisk about it, and its answer, when it comes late, is not told."""
    monkeypatch.setattr(ami, "ORIGINATE_MARGIN_S", -1.5)  # lost 0.5 s after sending
    async with AmiSimulator(secret=SECRET, time_scale=1.0) as sim:
        settings = AmiSettings(port=sim.port, username=sim.username, login_timeout_s=5)
        async with AmiPbx(settings, SECRET) as pbx:
            async with asyncio.timeout(5):
                await pbx.connected.wait()
            pbx.originate(request(1, "79161232001", timeout_s=2.0))  # busy: answered at once
            pbx.originate(request(2, "79161233001", timeout_s=2.0))  # rings for 2 s
            seen = await told(pbx, 3.0)
    results = [(type(e).__name__, e.call_id) for e in seen if hasattr(e, "call_id")]
    assert results == [
        ("OriginateResult", "dialerd-1-1-test"),
        ("OriginateLost", "dialerd-2-1-test"),
    ]
    busy = next(e for e in seen if isinstance(e, OriginateResult))
    assert (busy.success, busy.reason) == (False, 5)
    lost = next(e for e in seen if isinstance(e, OriginateLost))
    assert lost.why == "no OriginateResponse in time"
