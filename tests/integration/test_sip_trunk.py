"""Customers on a real SIP trunk: SIPp answering behind the PJSIP endpoint ``trunk``.

The daemon dials ``PJSIP/{number}@trunk`` (its default channel template) through the
sandbox Asterisk; SIPp plays each customer (tests/support/sipp.py). What the daemon
records must be what the conformance table expects of the same numbers on Local channels.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance
from support.scenarios import OUTCOME_PHONES, pbx_config, run_outcome_scenarios
from support.sipp import SippCustomers, sipp_unavailable_reason

pytestmark = pytest.mark.asterisk

TRUNK = "PJSIP/{number}@trunk"
PICKS_UP_AND_HANGS_UP = "+79161236001"

# What SIPp answers for each number of the conformance table, and what the daemon must
# record: the same outcomes and cause classes as on Local channels (test_conformance).
EXPECTED = {
    OUTCOME_PHONES["answered"]: ("answered", "normal"),  # 200 OK, RTP, BYE after 2 s
    OUTCOME_PHONES["busy"]: ("busy", "busy"),  # 486 Busy Here
    OUTCOME_PHONES["no_answer"]: ("no_answer", "no_answer"),  # 180 until CANCEL
    OUTCOME_PHONES["congestion"]: ("congestion", "congestion"),  # 503
    OUTCOME_PHONES["failed"]: ("failed", "invalid_number"),  # 404 Not Found
    PICKS_UP_AND_HANGS_UP: ("answered", "normal"),  # 200 OK, then BYE at once
}


@pytest.fixture
def trunk(fresh_asterisk) -> Iterator[tuple[AsteriskInstance, SippCustomers]]:
    """A sandbox Asterisk whose ``trunk`` leads to SIPp customers who talk 2 s."""
    reason = sipp_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    with SippCustomers(talk_s=2) as customers:
        yield fresh_asterisk(extra_config=customers.asterisk_config()), customers


async def test_each_customer_on_the_trunk_gives_the_conformance_outcome(tmp_path, trunk):
    instance, customers = trunk
    loaded = pbx_config(
        tmp_path / "trunk.sqlite3",
        instance.host,
        instance.port,
        instance.secret,
        channel_template=TRUNK,
    )
    # the trunk's qualify (an OPTIONS every minute) now, not only when the minute falls in
    instance.cli("pjsip qualify trunk")
    recorded = await run_outcome_scenarios(
        loaded, [*OUTCOME_PHONES.values(), PICKS_UP_AND_HANGS_UP]
    )
    assert {p: (r.outcome, r.cause_class) for p, r in recorded.items()} == EXPECTED, (
        customers.log_tail()
    )
    assert all(r.attempts == 1 for r in recorded.values())
    assert recorded[OUTCOME_PHONES["answered"]].talk_s == pytest.approx(2.0, abs=0.8)
    assert customers.aborted() == []  # every call went as the customer's script says


def test_only_a_call_that_leaves_the_script_counts_as_aborted():
    """The check above can fail: a stray BYE is reported, the qualify's OPTIONS is not."""
    reason = sipp_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with (
        SippCustomers(talk_s=1) as customers,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as carrier,
    ):
        carrier.bind(("127.0.0.1", 0))
        carrier.settimeout(5)
        for method in ("OPTIONS", "BYE", "OPTIONS"):
            carrier.sendto(
                _out_of_call(method, customers.port, carrier.getsockname()[1]),
                ("127.0.0.1", customers.port),
            )
            assert carrier.recv(4096).startswith(b"SIP/2.0 200 OK")
        aborted = customers.aborted()
    assert len(aborted) == 1 and "unexpected BYE" in aborted[0], aborted


def _out_of_call(method: str, to_port: int, from_port: int) -> bytes:
    """A SIP request outside any dialog, as Asterisk's qualify sends its OPTIONS."""
    return (
        f"{method} sip:customer@127.0.0.1:{to_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{from_port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        "From: <sip:asterisk@127.0.0.1>;tag=qualify\r\n"
        "To: <sip:customer@127.0.0.1>\r\n"
        f"Call-ID: {uuid.uuid4()}\r\n"
        f"CSeq: 1 {method}\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()
