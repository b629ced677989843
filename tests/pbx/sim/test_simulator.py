"""The AMI simulator, driven over TCP by panoramisk (as the daemon does) and by a raw client.

Expected frames come from the Asterisk 22.10.1 transcripts in ``asterisk/transcripts-22.10.1/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from panoramisk import Manager
from panoramisk.message import Message

from dialerd.pbx.sim.server import AmiSimulator, SimOutcome, outcome_by_digit

SECRET = "sim-secret"


# --- clients -------------------------------------------------------------------------------


class RawAmi:
    """A bare AMI client: frames as dicts, nothing hidden."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: bytes):
        self.reader, self.writer, self.banner = reader, writer, banner

    async def send(self, *pairs: tuple[str, str]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n")
        await self.writer.drain()

    async def frame(self, within_s: float = 2.0) -> dict[str, str]:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), within_s)
        lines = raw.decode().split("\r\n")
        return dict(line.split(": ", 1) for line in lines if line)

    async def until(self, event: str, within_s: float = 2.0) -> dict[str, str]:
        async with asyncio.timeout(within_s):
            while (frame := await self.frame()).get("Event") != event:
                pass
        return frame

    async def login(self, secret: str = SECRET, **extra: str) -> dict[str, str]:
        await self.send(
            ("Action", "Login"),
            ("ActionID", "login-1"),
            ("Username", "dialer"),
            ("Secret", secret),
            *extra.items(),
        )
        return await self.frame()

    async def closed_by_server(self) -> bool:
        """True once the server ends the stream (whatever unread frames precede the end)."""
        try:
            await asyncio.wait_for(self.reader.read(), 2.0)
        except ConnectionResetError:  # closed with our bytes unread
            return True
        return self.reader.at_eof()


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator(secret=SECRET, time_scale=1000) as simulator:
        yield simulator


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[AmiSimulator], Awaitable[RawAmi]]]:
    opened: list[RawAmi] = []

    async def connect(simulator: AmiSimulator) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
        client = RawAmi(reader, writer, await asyncio.wait_for(reader.readline(), 2))
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.writer.close()
        with contextlib.suppress(ConnectionError):
            await client.writer.wait_closed()


@contextlib.asynccontextmanager
async def manager(simulator: AmiSimulator) -> AsyncIterator[tuple[Manager, list[Message]]]:
    """A logged-in panoramisk Manager and every event it dispatches to callbacks."""
    loop = asyncio.get_running_loop()
    logged_in: asyncio.Future[None] = loop.create_future()
    events: list[Message] = []
    ami = Manager(
        host="127.0.0.1",
        port=simulator.port,
        username="dialer",
        secret=SECRET,
        loop=loop,
        ping_delay=600,
        reconnect_timeout=600,
        on_login=lambda _: logged_in.done() or logged_in.set_result(None),
    )
    ami.register_event("*", lambda _, event: events.append(event))
    ami.connect()
    try:
        await asyncio.wait_for(logged_in, 2)
        yield ami, events
    finally:
        ami.close()


def originate(number: str, channel_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "Action": "Originate",
        "Channel": f"Local/{number}@customers",
        "Context": "operators",
        "Exten": "101",
        "Priority": "1",
        "Timeout": "15000",
        "CallerID": '"Campaign 42" <5550100>',
        "Async": "true",
        "ChannelId": channel_id,
        "Variable": ["DIALER_LEAD=L1", "DIALER_CAMPAIGN=C42"],
        **extra,
    }


def originate_pairs(number: str, channel_id: str) -> list[tuple[str, str]]:
    pairs = [(k, v) for k, v in originate(number, channel_id).items() if k != "Variable"]
    return [*pairs, ("Variable", "DIALER_LEAD=L1")]


async def hangups_of(events: list[Message], linkedid: str, within_s: float = 2.0) -> dict[str, int]:
    """Wait for both halves' Hangup; the cause by Uniqueid."""
    async with asyncio.timeout(within_s):
        while True:
            found = {
                e.uniqueid: int(e.cause)
                for e in events
                if e.event == "Hangup" and e.linkedid == linkedid
            }
            if len(found) == 2:
                return found
            await asyncio.sleep(0.005)


# --- session -------------------------------------------------------------------------------


async def test_login_accepted_then_fully_booted(sim, raw):
    client = await raw(sim)
    assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
    reply = await client.login()
    assert reply == {
        "Response": "Success",
        "ActionID": "login-1",
        "Message": "Authentication accepted",
    }
    assert (await client.frame())["Event"] == "FullyBooted"


async def test_wrong_secret_is_refused_and_the_connection_closed(sim, raw):
    client = await raw(sim)
    reply = await client.login(secret="wrong")
    assert reply == {"Response": "Error", "ActionID": "login-1", "Message": "Authentication failed"}
    assert await client.closed_by_server()


async def test_actions_before_login_are_denied(sim, raw):
    client = await raw(sim)
    await client.send(
        ("Action", "Originate"),
        ("ActionID", "o1"),
        ("Channel", "Local/79161231001@customers"),
        ("Context", "operators"),
        ("Exten", "101"),
        ("Async", "true"),
    )
    assert await client.frame() == {
        "Response": "Error",
        "ActionID": "o1",
        "Message": "Permission denied",
    }
    assert sim.active_channels == {}


async def test_ping_unknown_action_and_logoff(sim, raw):
    client = await raw(sim)
    await client.login()
    await client.until("FullyBooted")
    await client.send(("Action", "Ping"), ("ActionID", "p1"))
    pong = await client.frame()
    assert pong["Response"] == "Success" and pong["Ping"] == "Pong"
    assert abs(float(pong["Timestamp"]) - time.time()) < 5
    await client.send(("Action", "NoSuchAction"), ("ActionID", "x1"))
    assert await client.frame() == {
        "Response": "Error",
        "ActionID": "x1",
        "Message": "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.",
    }
    await client.send(("Action", "Logoff"), ("ActionID", "bye"))
    assert await client.frame() == {
        "Response": "Goodbye",
        "ActionID": "bye",
        "Message": "Thanks for all the fish.",
    }
    assert await client.closed_by_server()


async def test_events_go_only_to_sessions_with_events_on(sim, raw):
    quiet, loud = await raw(sim), await raw(sim)
    assert (await quiet.login(Events="off"))["Response"] == "Success"
    await loud.login()
    await loud.send(*originate_pairs("79161232001", "dialer-busy-1"))
    assert (await loud.until("OriginateResponse"))["Reason"] == "5"
    await quiet.send(("Action", "Ping"), ("ActionID", "p1"))
    assert (await quiet.frame()).get("ActionID") == "p1"  # nothing was queued before the reply
    await quiet.send(("Action", "Events"), ("ActionID", "e1"), ("EventMask", "on"))
    assert await quiet.frame() == {"Response": "Success", "ActionID": "e1", "Events": "On"}
    await loud.send(*originate_pairs("79161232001", "dialer-busy-2"))
    assert (await quiet.until("Newchannel"))["Uniqueid"] == "dialer-busy-2"


async def test_malformed_input_never_breaks_the_server(sim, raw):
    client = await raw(sim)
    await client.login()
    await client.frame()  # FullyBooted
    client.writer.write(b"no colon here\r\n\xff\xfe binary\r\n\r\n")
    assert await client.frame() == {"Response": "Error", "Message": "Missing action in request"}
    await client.send(("Action", "Ping"), ("ActionID", "still-here"))
    assert (await client.frame())["Ping"] == "Pong"
    client.writer.write(b"Action: " + b"x" * 200_000 + b"\r\n\r\n")
    assert await client.closed_by_server()  # an absurd line ends that session only
    other = await raw(sim)
    assert (await other.login())["Message"] == "Authentication accepted"


# --- calls ---------------------------------------------------------------------------------

OUTCOMES = [
    # number, Response, Reason, Hangup cause on ;1, on ;2 (the transcripts of each scenario)
    ("79161231001", "Success", "4", 16, 16),  # answered.txt
    ("79161232001", "Failure", "5", 0, 17),  # busy.txt
    ("79161233001", "Failure", "3", 19, 19),  # noanswer.txt
    ("79161234001", "Failure", "8", 0, 34),  # congestion.txt
    ("79161235001", "Success", "4", 16, 16),  # longcall.txt
    ("79161239001", "Failure", "0", 1, 1),  # unallocated.txt
    ("79161237001", "Success", "4", 16, 16),  # any other digit answers
]


@pytest.mark.parametrize(("number", "response", "reason", "cause1", "cause2"), OUTCOMES)
async def test_each_outcome_digit_gives_the_transcripts_reason_and_causes(
    sim, number, response, reason, cause1, cause2
):
    cid = f"dialer-{number}"
    async with manager(sim) as (ami, events):
        ack, result = await asyncio.wait_for(ami.send_action(originate(number, cid)), 2)
        causes = await hangups_of(events, cid)
    assert (ack.response, ack.message) == ("Success", "Originate successfully queued")
    assert (result.event, result.response, result.reason) == ("OriginateResponse", response, reason)
    assert result.uniqueid == cid and result.actionid == ack.actionid
    assert causes == {cid: cause1, f"{cid};2": cause2}
    varsets = {(e.uniqueid, e.variable, e.value) for e in events if e.event == "VarSet"}
    assert varsets == {
        (u, v, x)
        for u in (cid, f"{cid};2")
        for v, x in (("DIALER_LEAD", "L1"), ("DIALER_CAMPAIGN", "C42"))
    }
    assert sim.active_channels == {}


async def test_answered_call_reports_the_channel_and_ends_normally(sim):
    async with manager(sim) as (ami, events):
        _, result = await ami.send_action(originate("79161231001", "dialer-a"))
        await hangups_of(events, "dialer-a")
    name, half = result.channel.rsplit(";", 1)  # the new channel, not the Channel header
    assert name.startswith("Local/79161231001@customers-") and half == "1"
    assert (result.calleridnum, result.calleridname) == ("5550100", "Campaign 42")
    hangup = next(e for e in events if e.event == "Hangup" and e.uniqueid == "dialer-a;2")
    assert hangup["Cause-txt"] == "Normal Clearing"
    dial_end = next(e for e in events if e.event == "DialEnd")
    assert dial_end.dialstatus == "ANSWER" and dial_end.destuniqueid == "dialer-a"


def test_outcome_rule_reads_the_fourth_digit_from_the_end():
    assert outcome_by_digit("79161235001") == SimOutcome("answer", talk_s=30.0)
    assert outcome_by_digit("5001") == SimOutcome("answer", talk_s=30.0)
    assert outcome_by_digit("79165001234").kind == "answer"  # a 5 elsewhere does not count
    assert outcome_by_digit("12") == SimOutcome("answer", talk_s=2.0)


async def test_core_show_channels_lists_a_live_call_until_it_ends():
    async with AmiSimulator(secret=SECRET, time_scale=10) as sim, manager(sim) as (ami, events):
        _, result = await ami.send_action(originate("79161235001", "dialer-long"))
        assert result.reason == "4"
        listing = await ami.send_action({"Action": "CoreShowChannels"})
        assert await sim.hangup("dialer-long")
        await hangups_of(events, "dialer-long")
        after = await ami.send_action({"Action": "CoreShowChannels"})
    *channels, complete = listing[1:]
    assert {(c.uniqueid, c.linkedid, c.channelstatedesc) for c in channels} == {
        ("dialer-long", "dialer-long", "Up"),
        ("dialer-long;2", "dialer-long", "Up"),
    }
    assert (complete.event, complete.eventlist, complete.listitems) == (
        "CoreShowChannelsComplete",
        "Complete",
        "2",
    )
    assert [m.event for m in after[1:]] == ["CoreShowChannelsComplete"]
    assert after[-1].listitems == "0"


async def test_a_channel_id_already_live_fails_with_the_other_calls_uniqueid():
    async with AmiSimulator(secret=SECRET, time_scale=10) as sim, manager(sim) as (ami, _):
        await ami.send_action(originate("79161235001", "dialer-dup"))
        ack, result = await ami.send_action(originate("79161231002", "dialer-dup"))
        assert list(sim.active_channels) == ["dialer-dup"]
        assert sim.active_channels["dialer-dup"].number == "79161235001"
    assert ack.response == "Success"
    assert (result.response, result.reason, result.uniqueid) == ("Failure", "0", "dialer-dup")
    assert result.channel == "Local/79161231002@customers"
    assert len(sim.originates) == 2


async def test_time_scale_shortens_a_call():
    async with AmiSimulator(secret=SECRET, time_scale=60) as sim, manager(sim) as (ami, events):
        _, result = await ami.send_action(originate("79161235001", "dialer-30s"))
        answered_at = time.monotonic()
        await hangups_of(events, "dialer-30s", within_s=5)
        talk = time.monotonic() - answered_at
    assert result.reason == "4"
    assert 0.4 < talk < 1.5  # 30 simulated seconds at x60


async def test_timeout_cap_ends_ringing_early():
    async with (
        AmiSimulator(secret=SECRET, originate_timeout_cap=0.2) as sim,
        manager(sim) as (ami, _),
    ):
        started = time.monotonic()
        _, result = await asyncio.wait_for(
            ami.send_action(originate("79161233001", "dialer-ring")), 2
        )
    assert result.reason == "3"
    assert 0.15 < time.monotonic() - started < 1.0  # Timeout 15000 capped to 0.2 s


async def test_originate_errors_asterisk_answers_at_once(sim, raw):
    client = await raw(sim)
    await client.login()
    await client.frame()  # FullyBooted
    cases = {
        "no-channel": ([("Context", "operators"), ("Exten", "101")], "Channel not specified"),
        "no-slash": (
            [("Channel", "garbage"), ("Context", "operators"), ("Exten", "101")],
            "Invalid channel",
        ),
        "no-exten": (
            [("Channel", "Local/79161231001@customers"), ("Context", "operators")],
            "Extension does not exist.",
        ),
    }
    for action_id, (pairs, message) in cases.items():
        await client.send(
            ("Action", "Originate"), ("ActionID", action_id), *pairs, ("Async", "true")
        )
        assert await client.frame() == {
            "Response": "Error",
            "ActionID": action_id,
            "Message": message,
        }
    await client.send(
        ("Action", "Originate"),
        ("ActionID", "bogus"),
        ("Channel", "Bogus/1234"),
        ("Context", "operators"),
        ("Exten", "101"),
        ("Async", "true"),
        ("ChannelId", "dialer-bad-3"),
    )
    assert (await client.frame())["Message"] == "Originate successfully queued"
    failure = await client.until("OriginateResponse")
    assert (failure["Response"], failure["Reason"], failure["Uniqueid"]) == (
        "Failure",
        "0",
        "dialer-bad-3",
    )
    assert [o.headers["ActionID"] for o in sim.originates] == [
        "no-channel",
        "no-slash",
        "no-exten",
        "bogus",
    ]
    assert sim.active_channels == {}


async def test_synchronous_originate_answers_once_the_dial_has_failed(sim, raw):
    client = await raw(sim)
    await client.login(Events="off")
    await client.send(
        ("Action", "Originate"),
        ("ActionID", "sync-busy"),
        ("Channel", "Local/79161232005@customers"),
        ("Context", "operators"),
        ("Exten", "101"),
    )
    assert await client.frame() == {
        "Response": "Error",
        "ActionID": "sync-busy",
        "Message": "Originate failed",
    }


async def test_hangup_action_ends_a_call_with_the_given_cause():
    slow = AmiSimulator(secret=SECRET, time_scale=10)
    async with slow, manager(slow) as (ami, events):
        await ami.send_action(originate("79161235001", "dialer-h"))
        missing = await ami.send_action(
            {"Action": "Hangup", "Channel": "Local/nope@customers-00000000;1"}
        )
        done = await ami.send_action({"Action": "Hangup", "Channel": "dialer-h", "Cause": "16"})
        causes = await hangups_of(events, "dialer-h")
    assert (missing.response, missing.message) == ("Error", "No such channel")
    assert (done.response, done.message) == ("Success", "Channel Hungup")
    assert causes == {"dialer-h": 16, "dialer-h;2": 16}
    assert slow.active_channels == {}


async def test_customer_hanging_up_while_ringing_ends_the_dial_once():
    async with AmiSimulator(secret=SECRET, time_scale=10) as sim, manager(sim) as (ami, events):
        pending = ami.send_action(originate("79161233001", "dialer-ring", Timeout="3000"))
        async with asyncio.timeout(2):
            while not any(e.event == "DialState" for e in events):
                await asyncio.sleep(0.005)
        assert await sim.hangup("dialer-ring")
        _, result = await asyncio.wait_for(pending, 2)
        causes = await hangups_of(events, "dialer-ring")
        await asyncio.sleep(0.4)  # past the 0.3 s the ringing would have lasted
    assert (result.response, result.reason) == ("Failure", "0")  # cause 16: no busy, no timeout
    assert causes == {"dialer-ring": 16, "dialer-ring;2": 16}
    assert [e.event for e in events].count("Hangup") == 2
    assert not any(e.event == "OriginateResponse" for e in events)  # never a second one


async def test_drop_connections_closes_clients_but_calls_carry_on(raw):
    async with AmiSimulator(secret=SECRET, time_scale=10) as sim:
        first, second = await raw(sim), await raw(sim)
        await first.login()
        await second.login()
        await first.send(*originate_pairs("79161235001", "dialer-survivor"))
        await first.until("OriginateResponse")
        await sim.drop_connections()
        assert await first.closed_by_server() and await second.closed_by_server()
        assert "dialer-survivor" in sim.active_channels
        again = await raw(sim)
        assert (await again.login())["Message"] == "Authentication accepted"
        await again.send(("Action", "CoreShowChannels"), ("ActionID", "c1"))
        assert (await again.until("CoreShowChannelsComplete"))["ListItems"] == "2"
