"""Which events Asterisk sends the dialer: the shipped manager.conf's filter and the one the
adapter asks for at login name exactly the events it reads, so nothing the daemon needs is
left out (an operator board that never updates) and nothing else is sent and dropped."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from dialerd.config import AmiSettings
from dialerd.pbx import parse
from dialerd.pbx.actions import event_filters
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.sim.server import AmiSimulator

MANAGER_CONF = Path(__file__).parents[2] / "config" / "asterisk" / "manager.conf"


def shipped_filter() -> list[str]:
    return re.findall(r"^eventfilter\(name\((\w+)\)\)\s*=", MANAGER_CONF.read_text(), re.M)


async def test_the_shipped_manager_conf_lets_through_exactly_what_the_adapter_listens_for():
    async with AmiSimulator(secret="s") as sim:
        settings = AmiSettings(port=sim.port, username=sim.username, login_timeout_s=5)
        async with AmiPbx(settings, "s") as pbx:
            await asyncio.wait_for(pbx.connected.wait(), 5)
            assert pbx._manager is not None
            listened = set(pbx._manager.callbacks) | {"OriginateResponse"}
    shipped = shipped_filter()
    assert len(shipped) == len(set(shipped))
    assert set(shipped) == listened
    assert set(parse.LISTENED) < listened


def test_the_session_filter_names_each_event_and_its_fallback_regex_matches_it_alone():
    actions = event_filters(parse.LISTENED)
    by_name = {a["MatchCriteria"]: a for a in actions}
    names = {*parse.LISTENED, "OriginateResponse"}
    assert set(by_name) == {f"name({n}),method(regex)" for n in names}
    member = re.compile(by_name["name(QueueMemberStatus),method(regex)"]["Filter"])
    assert member.search("Event: QueueMemberStatus\r\nQueue: sales\r\n")
    assert not member.search("Event: QueueMemberStatusChange\r\n")
    assert not member.search("Event: Newstate\r\nChannelStateDesc: QueueMemberStatus\r\n")
    # a panoramisk pattern stays a regex: Asterisk has no wildcard name match
    (wild,) = event_filters(["Queue*"])[1:]
    assert "MatchCriteria" not in wild and re.search(wild["Filter"], "Event: QueueCallerJoin\r\n")
