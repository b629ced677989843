"""The shipped manager.conf's event filter on a real Asterisk: the dialer's AMI user gets
the events dialerd reads and nothing else, answers to its actions still arrive whole, and
the tests' observers (their own user) still see everything."""

from __future__ import annotations

import asyncio
import collections
import re

import pytest
from support.asterisk import OBSERVER_USER, default_config_dir
from support.observer import AmiObserver

pytestmark = pytest.mark.asterisk

# A channel that stays up a few seconds, so the channel list has something to list.
SANDBOX = "extensions_sandbox.conf"  # #included by extensions.conf
PROBE_DIALPLAN = {
    SANDBOX: (default_config_dir() / SANDBOX).read_text()
    + "\n[probe]\nexten => s,1,Answer()\n same => n,Wait(4)\n"
}


async def test_the_dialer_user_gets_only_what_dialerd_reads_and_every_list_answer(
    fresh_asterisk,
):
    pbx = fresh_asterisk(extra_config=PROBE_DIALPLAN)
    async with (
        AmiObserver(pbx.host, pbx.port, pbx.username, pbx.secret) as dialer,
        AmiObserver(pbx.host, pbx.port, OBSERVER_USER, pbx.secret) as observer,
    ):
        await asyncio.sleep(0.3)
        dialer.events.clear()
        observer.events.clear()
        await observer.action({"Action": "UserEvent", "UserEvent": "DialerdProbe"})
        reply = await observer.action(
            {
                "Action": "Originate",
                "Channel": "Local/s@probe",
                "Application": "Wait",
                "Data": "4",
                "ChannelId": "evfilter-probe-1",
            }
        )
        assert reply[0].get("Response") == "Success", reply
        await observer.action({"Action": "DBPut", "Family": "dialerd", "Key": "k", "Val": "v"})

        listed = await dialer.action({"Action": "CoreShowChannels"}, as_list=True)
        queues = await dialer.action({"Action": "QueueStatus"}, as_list=True)
        got = await dialer.action(
            {"Action": "DBGet", "Family": "dialerd", "Key": "k"}, as_list=True
        )
        await observer.wait_for(
            lambda: len(observer.named("Hangup")) >= 2, 15, "the probe call to end"
        )
        await dialer.wait_for(lambda: len(dialer.named("Hangup")) >= 2, 5, "the dialer's Hangups")

    # answers to the dialer's own actions are not filtered
    assert any(f.get("Event") == "CoreShowChannel" for f in listed), listed
    assert {"QueueParams", "QueueMember"} <= {f.get("Event") for f in queues}
    assert [f.get("Val") for f in got if f.get("Event") == "DBGetResponse"] == ["v"]
    dialer_saw = collections.Counter(seen.name for seen in dialer.events)
    observer_saw = collections.Counter(seen.name for seen in observer.events)
    assert dialer_saw["UserEvent"] == 1
    # the call's bookkeeping events reach the observer, not the dialer
    for noise in ("Newchannel", "Newexten", "Newstate", "LocalBridge"):
        assert observer_saw[noise] > 0, observer_saw
        assert dialer_saw[noise] == 0, dialer_saw
    shipped = re.findall(
        r"^eventfilter\(name\((\w+)\)\)", (default_config_dir() / "manager.conf").read_text(), re.M
    )
    assert set(dialer_saw) <= set(shipped) and len(shipped) > 10
