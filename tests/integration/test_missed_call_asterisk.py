"""A caller abandoning a real Asterisk queue becomes a lead, and is called back.

The caller is simulated with an Originate of ``Local/<number>@customers`` (the sandbox's
PSTN: it answers, waits 2 s and hangs up) into a queue with no members, with the
customer's number as CallerID: after 2 s the caller hangs up waiting, and Asterisk sends
``QueueCallerAbandon``. This checks the header names the adapter reads on the real thing.
"""

import asyncio
import secrets

import pytest
from support.scenarios import pbx_config, running_engine

from dialerd.pbx.actions import OriginateRequest

pytestmark = pytest.mark.asterisk

QUEUE = "missed-test"


def add_empty_queue(asterisk) -> None:
    queues = (asterisk.etc_dir / "queues.conf").read_text()
    if f"[{QUEUE}]" not in queues:
        with (asterisk.etc_dir / "queues.conf").open("a") as f:
            f.write(f"\n[{QUEUE}]\nstrategy = ringall\njoinempty = yes\nleavewhenempty = no\n")
        with (asterisk.etc_dir / "extensions.conf").open("a") as f:
            f.write(f"\n[{QUEUE}]\nexten => 700,1,Queue({QUEUE},r,,,60)\n same => n,Hangup()\n")
    asterisk.cli("module reload app_queue.so")
    asterisk.cli("dialplan reload")
    assert QUEUE in asterisk.cli(f"queue show {QUEUE}")


async def test_a_caller_who_abandons_the_queue_is_called_back(tmp_path, asterisk):
    await asyncio.to_thread(add_empty_queue, asterisk)
    loaded = pbx_config(tmp_path / "d.sqlite3", asterisk.host, asterisk.port, asterisk.secret)
    async with running_engine(loaded) as (_engine, db, pbx):
        async with asyncio.timeout(15):
            await pbx.connected.wait()
        token = secrets.token_hex(4)
        pbx.originate(
            OriginateRequest(
                call_id=f"inbound-{token}",  # not a dialerd ChannelId: a customer's call
                action_id=f"inbound-{token}",
                channel="Local/89161231001@customers",
                context=QUEUE,
                exten="700",
                priority=1,
                timeout_s=10,
                caller_id="Customer <89161231001>",
            )
        )
        async with asyncio.timeout(20):
            while True:
                rows = await db.conn.execute_fetchall(
                    "SELECT * FROM leads WHERE source = 'missed_call' AND attempts >= 1"
                    " AND state != 'dialing'"
                )
                if rows:
                    break
                await asyncio.sleep(0.1)
    (lead,) = [dict(row) for row in rows]
    assert lead["phone"] == "+79161231001"
    assert lead["comment"] == f"missed call (abandoned in queue {QUEUE})"
    assert lead["last_outcome"] == "answered"  # called back through the real dialplan
