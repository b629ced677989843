"""Caller IDs on real Asterisk: a campaign's pool is used in turn, each customer's channel
shows the number (and name) its attempt stored, as Asterisk reports it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.observer import AmiObserver
from support.operators import operators_config, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled

from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

PHONES = ["+79161231001", "+79161231002", "+79161231003"]  # each answers, talks 2 s
POOL = [
    {"number": "+74951230001", "name": "Shop One"},
    {"number": "+74951230002", "name": "Shop Two"},
]


@pytest.fixture
def pbx(asterisk: AsteriskInstance) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(1))
    try:
        yield instance
    finally:
        instance.stop()


def shown_to_customer(observer: AmiObserver, call_id: str) -> tuple[str, str]:
    """The caller ID on the customer's side of the call (``Local/...@customers;2``)."""
    seen = [
        (s.frame.get("CallerIDNum", ""), s.frame.get("CallerIDName", ""))
        for s in observer.named("Newchannel", "NewCallerid", "Newstate")
        if s.frame.get("Linkedid") == call_id
        and "@customers-" in s.frame.get("Channel", "")
        and s.frame["Channel"].endswith(";2")
    ]
    shown = [pair for pair in seen if pair[0] not in ("", "<unknown>")]
    assert shown, seen
    return shown[-1]


@pytest.mark.parametrize("mode", ["customer_first", "agent_first"])
async def test_the_pool_is_used_in_turn_and_is_what_the_customer_sees(tmp_path, pbx, mode):
    loaded = operators_config(
        pbx,
        tmp_path / "d.sqlite3",
        mode=mode,
        operators=("101",),  # one call at a time: the turns follow the leads
        campaign={"caller_ids": POOL},
    )
    async with AmiObserver.of(pbx) as observer, running_engine(loaded) as (engine, db, _):
        lead_ids = await add_leads(db, PHONES)
        engine.wake()
        await wait_until_settled(db, lead_ids, timeout_s=40)
        attempts = sorted(
            [(await store.attempts_of(db, i))[0] for i in lead_ids], key=lambda a: a["id"]
        )
    assert [a["caller_id"] for a in attempts] == [
        "+74951230001",
        "+74951230002",
        "+74951230001",
    ]
    for attempt in attempts:
        number, name = shown_to_customer(observer, attempt["call_id"])
        expected = next(c for c in POOL if c["number"] == attempt["caller_id"])
        assert (number, name) == (expected["number"], expected["name"])
