"""A TCP server that speaks the Asterisk Manager Interface like Asterisk 22 with the test dialplan.

Why it exists: ``dialerd demo`` and the fast tests need a PBX that rings, answers and hangs up
in milliseconds, without root or a chroot, and the conformance tests run the same scenarios
here and on real Asterisk and require the daemon to record the same outcomes. So this is not a
mock of the adapter but an AMI server, reached by the same panoramisk client as production.

What it models, frame by frame from ``asterisk/transcripts-22.10.1/`` (DESIGN.md section 3):

- the session: banner ``Asterisk Call Manager/11.0.0``; Login (a wrong secret answers
  "Authentication failed" after a short delay and closes; ``Events: off``); "Permission denied"
  before login; Logoff; Ping; Events; CoreSettings; CoreShowChannels; Status;
  Hangup; "Invalid/unknown command" for anything else;
- ``Originate``: Asterisk's immediate errors (no Channel, no ``/``, unknown extension, bad
  Timeout); an unknown technology or a ChannelId already live fails with Reason 0; otherwise
  a Local channel pair ``;1``/``;2`` (Uniqueid ``ChannelId`` and ``ChannelId;2``, Linkedid
  ``ChannelId``) whose Newchannel, VarSet, DialBegin, Newstate, DialState, DialEnd,
  OriginateResponse, (Soft)HangupRequest and Hangup events follow its outcome's transcript;
- the customer: a rule maps the dialled digits to a :class:`SimOutcome`; the default,
  :func:`outcome_by_digit`, is the test dialplan (``asterisk/test-config/extensions.conf``);
- time: every simulated duration is divided by ``time_scale``.

Queues (issue 6), from ``queue.txt``/``queuestatus.txt``: members (``add_member``,
``set_member``) answered in QueueStatus and reported by QueueMemberStatus/QueueMemberPause;
the ``QueuePause`` action (issue 12; as 22.10.1 answers it: one QueueMemberPause per member
touched, even when nothing changed, and "Interface not found" for no such member);
an inbound caller (``queue_call``) who is answered by a free member, abandons or leaves after
N seconds (QueueCallerJoin, AgentCalled, QueueCallerLeave, AgentConnect, AgentComplete,
QueueCallerAbandon). An answered Originate whose Context/Exten is routed to a queue
(``route_to_queue``; customer_first) waits in that queue's line: callers are offered to
free members in arrival order, each waits at most their patience (``SimOutcome.patience_s``,
else drawn from the simulator's seeded distribution) or the queue's timeout, then abandons
(QueueCallerAbandon, QueueCallerLeave, the customer hangs up). A member is not offered a
caller for the queue's ``wrapuptime`` (``set_wrapup``) after each call, as app_queue does.

agent_first (``[dialer-agent-first]`` in ``config/asterisk/extensions.conf``): an Originate
that continues at that context once the operator's device answers Dial()s
``DIALER_CUSTOMER`` from the operator's channel for ``DIALER_RING_TIMEOUT`` s: DialBegin,
DialState, DialEnd (DialStatus ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL) with the
operator's channel as caller, the customer's Local pair sharing its Linkedid.

Time: every simulated duration is divided by ``time_scale``; every epoch time the simulator
reports (LastCall, LastPause, LoginTime, Uniqueids, Ping, the hangup handler's record) is
read from its ``clock``, which for a simulated day must be the daemon's own.

Not modelled: what other destinations (Context/Exten) do after the answer (the customer
ends the call), queue strategies but round robin, members who ring before answering,
bridges, cosmetic events (NewCallerid, Newexten, LocalBridge, security events), and
technology specifics (``PJSIP/...`` is simulated as a Local pair, so a busy trunk gives
Reason 5 here where real PJSIP gives 0).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

import structlog

from dialerd.pbx.sim.queue import IN_USE, NOT_IN_USE, QueueFate, SimMember, queue_params

log = structlog.get_logger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
ASTERISK_VERSION = "22.10.1"
DEFAULT_ORIGINATE_TIMEOUT_MS = 30_000
AUTH_FAILURE_DELAY_S = 0.1  # real Asterisk waits about 1 s before refusing a login
LINE_LIMIT_BYTES = 64 * 1024  # a longer line ends the session

# OriginateResponse Reason: the control frame that ended the dial.
REASON_FAILED, REASON_NO_ANSWER, REASON_ANSWERED, REASON_BUSY, REASON_CONGESTION = 0, 3, 4, 5, 8
# An unanswered dial's Reason from its hangup cause (Asterisk's pbx_dial_reason()).
REASON_BY_CAUSE = {17: REASON_BUSY, 19: REASON_NO_ANSWER, 26: REASON_NO_ANSWER}
REASON_BY_CAUSE |= dict.fromkeys((21, 27, 34, 38, 41, 42), REASON_CONGESTION)

CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
    41: "Temporary failure",
}

DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7
STATE_DESC = {DOWN: "Down", RING: "Ring", RINGING: "Ringing", UP: "Up", BUSY: "Busy"}
KNOWN_TECHS = frozenset({"local", "pjsip", "sip", "iax2", "dahdi"})
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})  # Asterisk's ast_true()
_FALSE = frozenset({"no", "false", "n", "f", "0", "off"})  # Asterisk's ast_false()
_DIGITS = re.compile(r"[0-9]+")
_CALLERID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<num>[^>]*)>\s*$')
_CHANNEL_KEYS = (
    "Channel ChannelState ChannelStateDesc CallerIDNum CallerIDName ConnectedLineNum "
    "ConnectedLineName Language AccountCode Context Exten Priority Uniqueid Linkedid"
).split()

Field = tuple[str, object]
_AGENT = "agent,all"  # the privilege of app_queue's events
OutcomeKind = Literal["answer", "busy", "no_answer", "congestion", "unallocated", "failed"]


@dataclass(frozen=True)
class SimOutcome:
    """What the simulated customer does with one call (durations in simulated seconds)."""

    kind: OutcomeKind
    ring_s: float = 0.0  # ringing first; reaching the Originate Timeout means no answer
    talk_s: float = 2.0  # "answer" only: talk before the customer hangs up
    # "answer" and put in a queue: the longest the customer waits for an operator before
    # hanging up; None: drawn from the simulator's patience distribution
    patience_s: float | None = None

    def __post_init__(self) -> None:
        if self.ring_s < 0 or self.talk_s < 0 or (self.patience_s or 0) < 0:
            raise ValueError(f"SimOutcome durations must be >= 0: {self}")


OutcomeRule = Callable[[str], SimOutcome]

_ANSWER = SimOutcome("answer", talk_s=2.0)
_BY_DIGIT = {
    "1": _ANSWER,
    "2": SimOutcome("busy"),
    "3": SimOutcome("no_answer"),
    "4": SimOutcome("congestion"),
    "5": SimOutcome("answer", talk_s=30.0),
    "9": SimOutcome("unallocated"),
}


def outcome_by_digit(number: str) -> SimOutcome:
    """The test dialplan: the 4th digit from the end of ``79161231001`` (here ``1``) decides.

    1 answers and talks 2 s; 2 busy; 3 rings until the Originate Timeout; 4 congestion;
    5 answers and talks 30 s; 9 unallocated number; anything else (or a short number) as 1.
    """
    return _BY_DIGIT.get(number[-4] if len(number) >= 4 else "", _ANSWER)


# --- frames ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmiFrame:
    """One client frame: its ``Key: Value`` lines in the order sent."""

    lines: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        """The first value of ``key``, case-insensitive (Asterisk's astman_get_header)."""
        return next(iter(self.get_all(key)), None)

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.lines if name.lower() == wanted]


def parse_frame(lines: Iterable[str]) -> AmiFrame:
    """Header lines to a frame; a line without a colon is ignored (Asterisk never matches it)."""
    pairs = []
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            pairs.append((name.strip(), value.lstrip(" \t")))
    return AmiFrame(tuple(pairs))


async def read_frame(reader: asyncio.StreamReader) -> AmiFrame | None:
    """Read to the blank line ending a frame (CRLF or LF); None at EOF or on an overlong line."""
    lines: list[str] = []
    while True:
        try:
            raw = await reader.readline()
        except ValueError:  # over the stream limit
            return None
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            return parse_frame(lines)
        lines.append(line)


def encode_frame(fields: Iterable[Field]) -> bytes:
    """Fields to wire bytes; values are written raw, as Asterisk does."""
    return ("".join(f"{key}: {value}\r\n" for key, value in fields) + "\r\n").encode()


def _reply(first: Field, action_id: str | None, *fields: Field) -> bytes:
    """A response or list item: its first line, then ActionID if the action had one."""
    head = [first] if action_id is None else [first, ("ActionID", action_id)]
    return encode_frame([*head, *fields])


def parse_callerid(raw: str | None) -> tuple[str, str]:
    """``"Campaign 42" <5550100>`` to ``(number, name)``; a missing part is ``<unknown>``."""
    if not raw or not raw.strip():
        return "<unknown>", "<unknown>"
    if match := _CALLERID.match(raw):
        return match["num"].strip() or "<unknown>", match["name"].strip() or "<unknown>"
    raw = raw.strip()
    return (raw, "<unknown>") if _DIGITS.fullmatch(raw) else ("<unknown>", raw)


def parse_variables(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``Variable`` headers (repeated and/or comma-separated ``NAME=value``) in order.

    As Asterisk does, a comma inside double quotes does not split, and the quotes go.
    """
    out = []
    for value in values:
        for item in _split_unquoted(value):
            name, sep, val = item.partition("=")
            if sep and name.strip():
                out.append((name.strip(), val))
    return tuple(out)


def _split_unquoted(value: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


@dataclass(frozen=True)
class DialTarget:
    """An Originate ``Channel``: ``Local/<digits>@<context>``, ``TECH/<digits>@<trunk>``, ..."""

    tech: str
    resource: str  # what follows the slash: the DialString
    user: str  # before '@': the number, or garbage
    context: str  # after '@', "default" without one

    @property
    def number(self) -> str | None:
        return self.user if _DIGITS.fullmatch(self.user) else None


def _device_of(channel: str) -> str:
    """``Local/101@operators-0000002a;1`` → ``Local/101@operators`` (its device)."""
    head, sep, _ = channel.rpartition("-")
    return head if sep else channel


def parse_dial_target(channel: str) -> DialTarget | None:
    tech, sep, resource = channel.partition("/")
    if not sep or not tech:
        return None
    user, _, context = resource.partition("@")
    return DialTarget(tech, resource, user, context or "default")


@dataclass(frozen=True)
class OriginateRequest:
    """The fields of an Originate the simulator acts on."""

    action_id: str | None
    channel: str
    target: DialTarget
    context: str  # where the call continues after the answer
    exten: str
    is_async: bool
    timeout_ms: int
    caller: tuple[str, str]
    channel_id: str | None
    other_channel_id: str | None
    variables: tuple[tuple[str, str], ...]


def parse_originate(frame: AmiFrame, contexts: frozenset[str] | None) -> OriginateRequest | str:
    """The request, or the message of the error Asterisk answers at once (bad_originate.txt)."""
    channel = frame.get("Channel") or ""
    timeout = (frame.get("Timeout") or "").strip()
    context, exten = frame.get("Context") or "", frame.get("Exten") or ""
    if not channel:
        return "Channel not specified"
    if timeout and not re.fullmatch(r"-?[0-9]+", timeout):
        return "Invalid timeout"
    target = parse_dial_target(channel)
    if target is None:
        return "Invalid channel"
    if not frame.get("Application") and (
        not exten or (contexts is not None and context not in contexts)
    ):
        return "Extension does not exist."
    return OriginateRequest(
        action_id=frame.get("ActionID"),
        channel=channel,
        target=target,
        context=context,
        exten=exten,
        is_async=(frame.get("Async") or "").strip().lower() in _TRUE,
        timeout_ms=int(timeout) if timeout else DEFAULT_ORIGINATE_TIMEOUT_MS,
        caller=parse_callerid(frame.get("CallerID")),
        channel_id=frame.get("ChannelId") or None,
        other_channel_id=frame.get("OtherChannelId") or None,
        variables=parse_variables(frame.get_all("Variable")),
    )


# --- simulated calls -----------------------------------------------------------------------


@dataclass(eq=False)
class SimChannel:
    """One half of a simulated call, with the fields Asterisk puts in channel events."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    caller: tuple[str, str]
    created_at: float  # event-loop clock
    state: int = DOWN
    application: str = ""
    app_data: str = ""

    def fields(self, prefix: str = "") -> list[Field]:
        num, name = self.caller
        values: tuple[object, ...] = (self.name, self.state, STATE_DESC[self.state], num, name)
        values += (num, name, "en", "", self.context, self.exten, 1, self.uniqueid, self.linkedid)
        return [(prefix + key, value) for key, value in zip(_CHANNEL_KEYS, values, strict=True)]


@dataclass(eq=False)
class SimCall:
    """A live call: ``one`` is the ``;1`` half (Uniqueid = ChannelId), ``two`` the customer's."""

    uniqueid: str
    request: OriginateRequest
    outcome: SimOutcome
    timeout_s: float
    one: SimChannel
    two: SimChannel
    settled: asyncio.Future[int]  # the OriginateResponse Reason, once known
    task: asyncio.Task[None] | None = None
    answered_at: float | None = None  # event-loop clock
    legs: list[SimChannel] = field(default_factory=list)  # agent_first: the customer's pair
    dial_status: str = ""  # agent_first: the Dial() to the customer's DIALSTATUS
    dial_answered_at: float | None = None  # event-loop clock: the customer answered

    @property
    def number(self) -> str | None:
        """The dialled digits (None when the Channel held none)."""
        return self.request.target.number


@dataclass(eq=False)
class _Waiter:
    """A caller in a queue's line, in arrival order."""

    chan: SimChannel
    joined_at: float  # event-loop clock
    original_position: int
    offers: bool  # offered to free members as they come; False: a scripted inbound caller
    offered: asyncio.Future[SimMember]
    scripted_hold_s: float | None = None  # a scripted caller's hold time, exactly as asked


@dataclass(frozen=True)
class ReceivedOriginate:
    """An Originate as received: first value per header, ``Variable`` values joined by ','."""

    headers: dict[str, str]
    received_at: float  # event-loop clock


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    task: asyncio.Task[None]
    gone: asyncio.Future[None]  # done once the connection is closed or dropped
    authenticated: bool = False
    events: bool = True
    filters: list[re.Pattern[str]] = field(default_factory=list)  # AMI Filter whitelist

    def wants(self, data: bytes) -> bool:
        """Events on, and (with filters) matched by one, as Asterisk's whitelist filters do."""
        if not (self.authenticated and self.events):
            return False
        text = data.decode("utf-8", "replace")
        return not self.filters or any(f.search(text) for f in self.filters)

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, status: str, action_id: str | None, *fields: Field) -> None:
        self.send(_reply(("Response", status), action_id, *fields))

    def error(self, action_id: str | None, message: str) -> None:
        self.respond("Error", action_id, ("Message", message))


Handler = Callable[[_Client, AmiFrame, str | None], Awaitable[None]]


class AmiSimulator:
    """The AMI server: ``async with AmiSimulator(time_scale=60) as sim:`` then dial ``sim.port``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "dialer",
        secret: str = "dialerpass",
        rule: OutcomeRule = outcome_by_digit,
        time_scale: float = 1.0,
        originate_timeout_cap: float | None = None,
        contexts: Collection[str] | None = None,
        booted: bool = True,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        patience_median_s: float = 10.0,
    ) -> None:
        """``originate_timeout_cap``: the longest ringing before "no answer", in simulated
        seconds, whatever the Originate's Timeout says. ``contexts``: the dialplan contexts
        that exist (None: any); others get Asterisk's unknown-extension answers.
        ``booted=False``: an Asterisk still starting, which takes logins but says
        FullyBooted only at ``finish_booting()``. ``clock``: epoch seconds now, as the
        simulator reports them (the daemon's clock on a simulated day). ``seed`` and
        ``patience_median_s``: customers' patience in a queue, drawn log-normally around
        that median unless their outcome says it."""
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        if originate_timeout_cap is not None and originate_timeout_cap < 0:
            raise ValueError(f"originate_timeout_cap must be >= 0, got {originate_timeout_cap}")
        if patience_median_s <= 0:
            raise ValueError(f"patience_median_s must be > 0, got {patience_median_s}")
        self.clock = clock
        self.patience_median_s = patience_median_s
        self._rng = random.Random(seed)
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.rule, self.time_scale = rule, time_scale
        self.originate_timeout_cap = originate_timeout_cap
        self.contexts = None if contexts is None else frozenset(contexts)
        self.booted = booted
        self.shutting_down = False  # every action is refused, as Asterisk does while stopping
        self.astdb: dict[str, str] = {}  # "family/key" → value (DBGet/DBPut/DBDel)
        self.originates: list[ReceivedOriginate] = []
        self.active_channels: dict[str, SimCall] = {}  # live calls by Uniqueid of the ;1 half
        self._clients: list[_Client] = []
        self._server: asyncio.Server | None = None
        self.members: list[SimMember] = []
        self.queue_routes: dict[tuple[str, str], str] = {}  # (context, exten) → queue
        self.queue_timeouts: dict[str, float | None] = {}  # queue → Queue()'s timeout, s
        self.wrapup_s: dict[str, float] = {}  # queue → its wrapuptime (queues.conf)
        # where an answered operator's channel Dial()s the customer (agent_first)
        self.agent_first_routes: set[tuple[str, str]] = {("dialer-agent-first", "s")}
        self._lines: dict[str, list[_Waiter]] = {}  # callers waiting per queue, in order
        self._next_member: dict[str, int] = {}  # rrmemory: where the next offer starts
        self._device_channels: dict[str, int] = {}  # device → its live channels
        self._queue_tasks: set[asyncio.Task[None]] = set()
        self._local_seq = itertools.count()
        self._uid_seq = itertools.count(1)
        self._started_at = clock()
        self._actions: dict[str, Handler] = {
            "ping": self._ping,
            "events": self._events,
            "coresettings": self._core_settings,
            "coreshowchannels": self._core_show_channels,
            "status": self._status,
            "hangup": self._hangup_action,
            "originate": self._originate,
            "filter": self._filter,
            "queuestatus": self._queue_status,
            "queuepause": self._queue_pause,
            "dbget": self._db_get,
            "dbput": self._db_put,
            "dbdel": self._db_del,
            "getvar": self._getvar,
        }

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("AmiSimulator already started")
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=LINE_LIMIT_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "ami_simulator_started", host=self.host, port=self.port, time_scale=self.time_scale
        )

    async def stop(self) -> None:
        """Close the listener and every connection; live calls vanish without events."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in self._queue_tasks:
            task.cancel()
        calls = list(self.active_channels.values())
        self.active_channels.clear()
        for call in calls:
            if call.task is not None:
                call.task.cancel()
            if not call.settled.done():
                call.settled.set_result(REASON_FAILED)
        await self.drop_connections()
        await asyncio.gather(*(c.task for c in calls if c.task), return_exceptions=True)
        await server.wait_closed()
        log.info("ami_simulator_stopped", port=self.port)

    async def __aenter__(self) -> AmiSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def drop_connections(self) -> None:
        """Abort every client connection, as when the AMI link breaks; calls carry on."""
        clients = list(self._clients)
        for client in clients:
            client.writer.transport.abort()
            if not client.gone.done():
                client.gone.set_result(None)
        await asyncio.gather(*(c.task for c in clients), return_exceptions=True)

    async def close_port(self) -> None:
        """The AMI port goes away (manager.conf disabled, a firewall, a network cut): every
        client is cut off and no login gets through until ``reopen_port``; calls carry on."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await self.drop_connections()
            await server.wait_closed()

    async def reopen_port(self) -> None:
        """The AMI port is back, on the same port number."""
        await self.start()

    async def hangup(self, uniqueid: str, cause: int = 16) -> bool:
        """The customer hangs up a live call now (a channel name or Uniqueid of either half)."""
        found = self._find_channel(uniqueid)
        if found is None:
            return False
        self._hangup_call(found[0], found[0].two, cause)
        return True

    def emit_queue_abandon(
        self, caller: str, queue: str = "sales", hold_s: int = 12, uniqueid: str | None = None
    ) -> str:
        """An inbound caller hangs up waiting in ``queue`` (QueueCallerAbandon, channel
        snapshot as app_queue.c sends it); returns the caller channel's Uniqueid."""
        chan = self._inbound_channel(caller, uniqueid)
        self._channel_event(
            "QueueCallerAbandon",
            chan,
            ("Queue", queue),
            ("Position", 1),
            ("OriginalPosition", 1),
            ("HoldTime", hold_s),
        )
        return chan.uniqueid

    # --- queues ------------------------------------------------------------------------------

    def add_member(self, queue: str, interface: str, name: str | None = None) -> SimMember:
        """A static member of ``queue``, logged in and not in use."""
        member = SimMember(queue, interface, name or interface, int(self.clock()))
        self.members.append(member)
        return member

    def route_to_queue(
        self, context: str, exten: str, queue: str, timeout_s: float | None = 60.0
    ) -> None:
        """Answered Originates continuing at ``context``/``exten`` wait in ``queue``, at
        most ``timeout_s`` (``Queue(sales,r,,,60)`` in the shipped dialplan; None: no limit)."""
        self.queue_routes[(context, exten)] = queue
        self.queue_timeouts[queue] = timeout_s

    def set_wrapup(self, queue: str, seconds: float) -> None:
        """The queue's ``wrapuptime``: a member is offered no caller for ``seconds`` after
        each call (AgentComplete). Like Asterisk, QueueStatus does not report it."""
        if seconds < 0:
            raise ValueError(f"wrapup must be >= 0, got {seconds}")
        self.wrapup_s[queue] = seconds

    def route_agent_first(self, context: str, exten: str) -> None:
        """Originates continuing at ``context``/``exten`` Dial() ``DIALER_CUSTOMER`` once the
        operator answers (``dialer-agent-first``/``s`` is routed from the start)."""
        self.agent_first_routes.add((context, exten))

    def set_member(
        self,
        interface: str,
        *,
        status: int | None = None,
        paused: bool | None = None,
        reason: str = "test",
    ) -> None:
        """A member's device state (QueueMemberStatus) or pause (QueueMemberPause) changes."""
        for member in self.members:
            if member.interface != interface:
                continue
            if paused is not None and paused != member.paused:
                member.pause(paused, reason if paused else "", self.clock())
                self._emit("QueueMemberPause", *member.live(), privilege="agent,all")
            if status is not None and status != member.status:
                member.status = status
                self._emit("QueueMemberStatus", *member.live(), privilege="agent,all")
            self._offer(member.queue)

    def queue_call(
        self,
        caller: str,
        fate: QueueFate = "answer",
        after_s: float = 0.0,
        *,
        queue: str = "sales",
        talk_s: float = 2.0,
        uniqueid: str | None = None,
    ) -> str:
        """A scripted inbound caller joins ``queue``; after ``after_s`` a free member answers
        (and talks ``talk_s``; with nobody free the caller leaves), or the caller abandons, or
        leaves without an agent (an exit key; Asterisk 22 sends QueueCallerAbandon before the
        QueueCallerLeave of a queue *timeout*, so use "abandon" for that). Scripted callers
        take their place in the line but are not offered to members before ``after_s``.
        Returns the caller channel's Uniqueid."""
        chan = self._inbound_channel(caller, uniqueid)
        chan.app_data = queue

        async def play() -> None:
            waiter = self._join(chan, queue, offers=False)
            waiter.scripted_hold_s = after_s
            try:
                await self._sleep(after_s)
                member = self._pick(queue) if fate == "answer" else None
                if member is None:
                    self._leave(waiter, queue, abandon=fate == "abandon")
                else:
                    member.in_call = True
                    await self._connect(waiter, queue, member, talk_s)
            finally:
                self._forget(waiter, queue)
            self._hangup_channel(chan, 16)

        task = asyncio.create_task(play(), name=f"ami-sim-queue-{chan.uniqueid}")
        self._queue_tasks.add(task)
        task.add_done_callback(self._queue_tasks.discard)
        return chan.uniqueid

    async def _queue_customer(self, chan: SimChannel, queue: str, outcome: SimOutcome) -> None:
        """An answered customer in ``queue``: offered to the next free member in arrival order,
        or gone once their patience (or the queue's timeout) runs out, as app_queue ends it."""
        patience = outcome.patience_s
        if patience is None:
            patience = self._rng.lognormvariate(math.log(self.patience_median_s), 0.8)
        timeout = self.queue_timeouts.get(queue)
        wait_s = patience if timeout is None else min(patience, timeout)
        waiter = self._join(chan, queue, offers=True)
        self._offer(queue)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.offered), wait_s / self.time_scale)
        except TimeoutError:
            pass
        except asyncio.CancelledError:  # hung up while waiting: an abandon to Asterisk
            if waiter.offered.done():
                waiter.offered.result().in_call = False
                self._offer(queue)
            self._leave(waiter, queue, abandon=True)
            raise
        if not waiter.offered.done():
            waiter.offered.cancel()
            self._leave(waiter, queue, abandon=True)
            return
        try:
            await self._connect(waiter, queue, waiter.offered.result(), outcome.talk_s)
        finally:
            self._forget(waiter, queue)

    def _join(self, chan: SimChannel, queue: str, *, offers: bool) -> _Waiter:
        line = self._lines.setdefault(queue, [])
        offered: asyncio.Future[SimMember] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(chan, self._now(), len(line) + 1, offers, offered)
        line.append(waiter)
        joined = ("Queue", queue), ("Position", len(line)), ("Count", len(line))
        self._emit("QueueCallerJoin", *chan.fields(), *joined, privilege=_AGENT)
        return waiter

    def _leave(self, waiter: _Waiter, queue: str, *, abandon: bool) -> None:
        """The caller leaves the line (QueueCallerLeave), abandoning first if nobody took it."""
        line = self._lines.get(queue, [])
        if waiter not in line:
            return
        position = ("Position", line.index(waiter) + 1)
        line.remove(waiter)
        chan = waiter.chan
        if abandon:
            where = ("Queue", queue), position, ("OriginalPosition", waiter.original_position)
            held = ("HoldTime", self._held_s(waiter))
            self._emit("QueueCallerAbandon", *chan.fields(), *where, held, privilege=_AGENT)
        left = ("Queue", queue), position, ("Count", len(line))
        self._emit("QueueCallerLeave", *chan.fields(), *left, privilege=_AGENT)

    def _forget(self, waiter: _Waiter, queue: str) -> None:
        """Out of the line without a frame (the simulator stopping)."""
        line = self._lines.get(queue, [])
        if waiter in line:
            line.remove(waiter)

    def _held_s(self, waiter: _Waiter) -> int:
        if waiter.scripted_hold_s is not None:
            return int(waiter.scripted_hold_s)
        return round((self._now() - waiter.joined_at) * self.time_scale)

    def _pick(self, queue: str) -> SimMember | None:
        """The next available member, round robin from the one after the last offered
        (``strategy = rrmemory``); an interface busy in another queue is not available."""
        members = [m for m in self.members if m.queue == queue]
        busy = {m.interface for m in self.members if m.in_call}
        start, now = self._next_member.get(queue, 0), self._now()
        for step in range(len(members)):
            index = (start + step) % len(members)
            member = members[index]
            if member.interface not in busy and member.available(now):
                self._next_member[queue] = index + 1
                return member
        return None

    def _offer(self, queue: str) -> None:
        """Free members to the callers waiting longest (the head of the line first)."""
        for waiter in self._lines.get(queue, []):
            if not waiter.offers or waiter.offered.done():
                continue
            member = self._pick(queue)
            if member is None:
                return
            member.in_call = True
            waiter.offered.set_result(member)

    async def _connect(self, waiter: _Waiter, queue: str, member: SimMember, talk_s: float) -> None:
        """The member takes the caller: frame by frame as app_queue sends them, then the
        member's wrap-up (the queue's wrapuptime) before the next offer."""
        chan = waiter.chan
        hold = ("HoldTime", self._held_s(waiter))
        dest = SimChannel(
            f"{member.interface}-{next(self._local_seq):08x};1",
            self._new_uniqueid(),
            chan.linkedid,
            chan.context,
            chan.exten,
            chan.caller,
            self._now(),
        )
        who = ("Queue", queue), ("Interface", member.interface), ("MemberName", member.name)
        self._emit("AgentCalled", *chan.fields(), *dest.fields("Dest"), *who, privilege=_AGENT)
        member.status = IN_USE
        self._emit("QueueMemberStatus", *member.live(), privilege=_AGENT)
        self._leave(waiter, queue, abandon=False)
        dest.state = UP
        connect = (*chan.fields(), *dest.fields("Dest"), *who, hold)
        self._emit("AgentConnect", *connect, ("RingTime", 0), privilege=_AGENT)
        try:
            await self._sleep(talk_s)
        finally:
            talk = ("TalkTime", int(talk_s)), ("Reason", "caller")
            self._emit("AgentComplete", *connect, *talk, privilege=_AGENT)
            member.status, member.in_call = NOT_IN_USE, False
            member.last_call = int(self.clock())
            member.calls_taken += 1
            wrapup_s = self.wrapup_s.get(queue, 0.0)
            member.wrapup_ends = self._now() + wrapup_s / self.time_scale
            self._emit("QueueMemberStatus", *member.live(), privilege=_AGENT)
            if wrapup_s > 0:
                asyncio.get_running_loop().call_later(
                    wrapup_s / self.time_scale, self._offer, queue
                )
            self._offer(queue)

    async def _queue_status(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        start = ("EventList", "start"), ("Message", "Queue status will follow")
        client.respond("Success", action_id, *start)
        items = 0
        for queue in sorted({m.queue for m in self.members}):
            params = queue_params(queue, len(self._lines.get(queue, [])), action_id)
            client.send(encode_frame([("Event", "QueueParams"), *params]))
            items += 1
            for member in (m for m in self.members if m.queue == queue):
                client.send(encode_frame([("Event", "QueueMember"), *member.listed(action_id)]))
                items += 1
        done = ("EventList", "Complete"), ("ListItems", items)
        client.send(_reply(("Event", "QueueStatusComplete"), action_id, *done))

    async def _queue_pause(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        """app_queue's manager_queue_member_pause: every member with that interface (in
        ``Queue``, or in all queues), paused or not, with ``Reason`` (cleared when absent)."""
        interface = (frame.get("Interface") or "").strip()
        paused = (frame.get("Paused") or "").strip()
        if not interface or not paused:
            client.error(action_id, "Need 'Interface' and 'Paused' parameters.")
            return
        queue = (frame.get("Queue") or "").strip()
        members = [
            m for m in self.members if m.interface == interface and (not queue or m.queue == queue)
        ]
        if not members:
            client.error(action_id, "Interface not found")
            return
        pause = paused.lower() in _TRUE
        for member in members:
            member.pause(pause, (frame.get("Reason") or "").strip(), self.clock())
            self._emit("QueueMemberPause", *member.live(), privilege="agent,all")
        for queue in {m.queue for m in members}:
            self._offer(queue)
        done = "Interface paused successfully" if pause else "Interface unpaused successfully"
        client.respond("Success", action_id, ("Message", done))

    def emit_user_event(self, name: str, caller: str, *headers: Field) -> str:
        """``UserEvent(name,headers...)`` run by an inbound caller's channel."""
        chan = self._inbound_channel(caller, None)
        self._emit("UserEvent", *chan.fields(), ("UserEvent", name), *headers)
        return chan.uniqueid

    def _inbound_channel(self, caller: str, uniqueid: str | None) -> SimChannel:
        uid = uniqueid or self._new_uniqueid()
        name = f"PJSIP/trunk-{next(self._local_seq):08x}"
        chan = SimChannel(name, uid, uid, "inbound", "s", (caller, "<unknown>"), self._now(), UP)
        chan.application, chan.app_data = "Queue", "sales"
        return chan

    # --- session ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        client = _Client(writer, task, asyncio.get_running_loop().create_future())
        self._clients.append(client)
        try:
            client.send(BANNER)
            while (frame := await read_frame(reader)) is not None:
                if not await self._handle(client, frame):
                    break
        except ConnectionError:
            pass
        except Exception:
            log.exception("ami_simulator_session_failed")
        finally:
            self._clients.remove(client)
            writer.close()
            if not client.gone.done():
                client.gone.set_result(None)

    async def _handle(self, client: _Client, frame: AmiFrame) -> bool:
        """Answer one frame (even an empty one, as Asterisk does); False to end the session."""
        action = (frame.get("Action") or "").strip()
        action_id = frame.get("ActionID")
        if not action:
            client.error(action_id, "Missing action in request")
        elif action.lower() == "login":
            return await self._login(client, frame, action_id)
        elif action.lower() == "logoff":
            client.respond("Goodbye", action_id, ("Message", "Thanks for all the fish."))
            return False
        elif not client.authenticated:
            client.error(action_id, "Permission denied")
        elif self.shutting_down:
            client.error(action_id, "Asterisk is shutting down")
        elif (handler := self._actions.get(action.lower())) is not None:
            await handler(client, frame, action_id)
        else:
            hint = "Use Action: ListCommands to show available commands."
            client.error(action_id, f"Invalid/unknown command: {action}. {hint}")
        return True

    async def _login(self, client: _Client, frame: AmiFrame, action_id: str | None) -> bool:
        if client.authenticated:
            client.respond("Success", action_id, ("Message", "Already authenticated"))
            return True
        if frame.get("Username") != self.username or frame.get("Secret") != self.secret:
            await asyncio.sleep(AUTH_FAILURE_DELAY_S)
            client.error(action_id, "Authentication failed")
            return False
        client.authenticated = True
        client.events = (frame.get("Events") or "").strip().lower() not in _FALSE
        client.respond("Success", action_id, ("Message", "Authentication accepted"))
        if client.events and self.booted:
            client.send(self._fully_booted())
        return True

    def _fully_booted(self) -> bytes:
        up = int(self.clock() - self._started_at)
        booted = [("Privilege", "system,all"), ("Uptime", up), ("LastReload", up)]
        return _reply(("Event", "FullyBooted"), None, *booted, ("Status", "Fully Booted"))

    def finish_booting(self) -> None:
        """The boot completes: FullyBooted to every logged-in session with events on."""
        self.booted = True
        frame = self._fully_booted()
        for client in self._clients:
            if client.wants(frame):
                client.send(frame)

    def begin_shutdown(self) -> None:
        """``core stop gracefully``: sessions stay up, every action is refused."""
        self.shutting_down = True

    def cancel_shutdown(self) -> None:
        """``core abort shutdown``: actions are answered again."""
        self.shutting_down = False

    async def shut_down(self, *, restart: bool = True) -> None:
        """The end of a shutdown: the Shutdown event, then every session closes."""
        restarting = ("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")
        self._emit("Shutdown", *restarting, privilege="system,all")
        await self.drop_connections()
        self.shutting_down = False

    async def _db_get(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        family, key = frame.get("Family") or "", frame.get("Key") or ""
        value = self.astdb.get(f"{family}/{key}")
        if value is None:
            client.error(action_id, "Database entry not found")
            return
        client.respond(
            "Success", action_id, ("EventList", "start"), ("Message", "Result will follow")
        )
        found = ("Family", family), ("Key", key), ("Val", value)
        client.send(_reply(("Event", "DBGetResponse"), action_id, *found))
        done = ("EventList", "Complete"), ("ListItems", 1)
        client.send(_reply(("Event", "DBGetComplete"), action_id, *done))

    async def _db_put(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        family, key = frame.get("Family") or "", frame.get("Key") or ""
        self.astdb[f"{family}/{key}"] = frame.get("Val") or ""
        client.respond("Success", action_id, ("Message", "Updated database successfully"))

    async def _db_del(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        family, key = frame.get("Family") or "", frame.get("Key") or ""
        if self.astdb.pop(f"{family}/{key}", None) is None:
            client.error(action_id, "Database entry not found")
            return
        client.respond("Success", action_id, ("Message", "Key deleted successfully"))

    def _run_hangup_handler(self, call: SimCall, cause: int) -> None:
        """What ``[dialer-hangup]`` (config/asterisk/extensions.conf) writes, if it was pushed."""
        handler = dict(call.request.variables).get("CHANNEL(hangup_handler_push)")
        if handler is None:
            return
        answered = call.answered_at is not None
        billsec = 0.0
        if call.answered_at is not None:
            billsec = (self._now() - call.answered_at) * self.time_scale
        now = self.clock()
        answer_epoch = now - billsec if answered else 0.0
        state = STATE_DESC[call.one.state]
        dialanswered = ""
        if call.dial_answered_at is not None:
            dialanswered = str(int((self._now() - call.dial_answered_at) * self.time_scale))
        self.astdb[f"dialerd/{call.uniqueid}"] = (
            f"v1 answer={answer_epoch:.6f} billsec={billsec:.6f} end={int(now)}"
            f" cause={cause} state={state} dialstatus={call.dial_status}"
            f" dialanswered={dialanswered}"
        )

    async def _ping(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        client.respond("Success", action_id, ("Ping", "Pong"), ("Timestamp", f"{self.clock():.6f}"))

    async def _events(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        mask = (frame.get("EventMask") or "").strip().lower()
        if not mask:
            client.error(action_id, "Invalid event mask")
            return
        client.events = not (mask in _FALSE or (mask.isdigit() and int(mask) == 0))
        client.respond("Success", action_id, ("Events", "On" if client.events else "Off"))

    async def _filter(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        """``Operation: Add`` of a whitelist regex (``!`` blacklists are not modelled)."""
        text = (frame.get("Filter") or "").strip()
        if (frame.get("Operation") or "").strip().lower() != "add":
            client.error(action_id, "Unknown operation")
            return
        try:
            client.filters.append(re.compile(text))
        except re.error:
            client.error(
                action_id, "Filter did not compile.  Check the syntax of the filter given."
            )
            return
        client.respond("Success", action_id, ("Message", "Success"))

    async def _core_settings(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        settings: list[Field] = [
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", ASTERISK_VERSION),
            ("SystemName", ""),
            ("CoreMaxCalls", 500),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", 0),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        ]
        client.respond("Success", action_id, *settings)

    async def _core_show_channels(
        self, client: _Client, frame: AmiFrame, action_id: str | None
    ) -> None:
        channels = self._live_channels()
        client.respond(
            "Success", action_id, ("EventList", "start"), ("Message", "Channels will follow")
        )
        for chan in channels:
            details = [("Application", chan.application), ("ApplicationData", chan.app_data)]
            details += [("Duration", self._duration(chan)), ("BridgeId", "")]
            client.send(_reply(("Event", "CoreShowChannel"), action_id, *chan.fields(), *details))
        done = ("EventList", "Complete"), ("ListItems", len(channels))
        client.send(_reply(("Event", "CoreShowChannelsComplete"), action_id, *done))

    async def _status(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        wanted = frame.get("Channel")
        live = self._live_channels()
        channels = [c for c in live if not wanted or wanted in (c.name, c.uniqueid)]
        if wanted and not channels:
            client.error(action_id, "No such channel")
            return
        start = ("EventList", "start"), ("Message", "Channel status will follow")
        client.respond("Success", action_id, *start)
        for chan in channels:
            details: list[Field] = [("Type", chan.name.partition("/")[0])]
            details += [("Application", chan.application), ("Data", chan.app_data)]
            details += [("Seconds", self._age_s(chan))]
            client.send(_reply(("Event", "Status"), action_id, *chan.fields(), *details))
        done = ("EventList", "Complete"), ("ListItems", len(channels)), ("Items", len(channels))
        client.send(_reply(("Event", "StatusComplete"), action_id, *done))

    async def _hangup_action(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        """Hang up by channel name or Uniqueid (no ``/regex/``); no Cause header means cause 0."""
        wanted = frame.get("Channel")
        found = self._find_channel(wanted) if wanted else None
        if found is None:
            client.error(action_id, "No such channel" if wanted else "No channel specified")
            return
        cause = (frame.get("Cause") or "").strip()
        client.respond("Success", action_id, ("Message", "Channel Hungup"))
        self._hangup_call(*found, int(cause) if _DIGITS.fullmatch(cause) else 0)

    # --- Originate -------------------------------------------------------------------------

    async def _originate(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        """Async: ack now, events later. Sync (Async absent/false): the session blocks until
        the dial ends, then "Originate successfully queued" or "Originate failed", no event."""
        headers: dict[str, str] = {}
        for key, value in frame.lines:
            joined = key.lower() == "variable" and key in headers
            headers[key] = f"{headers[key]},{value}" if joined else headers.get(key, value)
        self.originates.append(ReceivedOriginate(headers, self._now()))
        request = parse_originate(frame, self.contexts)
        if isinstance(request, str):
            client.error(action_id, request)
            return
        queued = ("Message", "Originate successfully queued")
        if request.is_async:
            client.respond("Success", action_id, queued)
        settled = self._place_call(request)
        if request.is_async:
            return
        waits: list[asyncio.Future[object]] = [settled, client.gone]  # type: ignore[list-item]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not settled.done():
            return  # the connection went first
        if settled.result() == REASON_ANSWERED:
            client.respond("Success", action_id, queued)
        else:
            client.error(action_id, "Originate failed")

    def _place_call(self, request: OriginateRequest) -> asyncio.Future[int]:
        """Create the call and emit its first events; the rest plays out in a task."""
        settled: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        target, channel_id = request.target, request.channel_id
        if target.tech.lower() not in KNOWN_TECHS or (
            channel_id and self._find_channel(channel_id)
        ):  # no channel is created; a duplicate's Uniqueid is the live call's
            self._originate_response(request, REASON_FAILED, channel_id or "<null>")
            settled.set_result(REASON_FAILED)
            return settled
        routable = target.tech.lower() != "local" or (
            self.contexts is None or target.context in self.contexts
        )
        number = target.number if routable else None
        outcome = self.rule(number) if number is not None else SimOutcome("failed")
        timeout_s = max(request.timeout_ms, 0) / 1000
        if self.originate_timeout_cap is not None:
            timeout_s = min(timeout_s, self.originate_timeout_cap)
        uid = channel_id or self._new_uniqueid()
        uid2 = request.other_channel_id or (f"{uid};2" if channel_id else self._new_uniqueid())
        name, now = f"{request.channel}-{next(self._local_seq):08x}", self._now()
        place = (target.context, target.user, request.caller, now)
        one = SimChannel(f"{name};1", uid, uid, *place, DOWN, "AppDial2", "(Outgoing Line)")
        two = SimChannel(f"{name};2", uid2, uid, *place, RING)
        call = SimCall(uid, request, outcome, timeout_s, one, two, settled)
        self.active_channels[uid] = call

        self._channel_event("Newchannel", one)
        self._channel_event("Newchannel", two)
        for var, value in reversed(request.variables):  # the ;1 half lists them last-first
            self._channel_event("VarSet", one, ("Variable", var), ("Value", value))
        for var, value in request.variables:
            self._channel_event("VarSet", two, ("Variable", var), ("Value", value))
        if outcome.kind != "failed":
            self._dial_event("DialBegin", call, ("DialString", target.resource))
        call.task = asyncio.create_task(self._play(call), name=f"ami-sim-call-{uid}")
        return settled

    async def _play(self, call: SimCall) -> None:
        """The timed part of a call, ending in the order of its outcome's transcript."""
        outcome, one, two = call.outcome, call.one, call.two
        no_answer = outcome.kind == "no_answer" or outcome.ring_s >= call.timeout_s
        try:
            if no_answer or outcome.ring_s > 0:
                self._new_state(one, RINGING)
                self._dial_event("DialState", call, ("DialStatus", "RINGING"))
                await self._sleep(call.timeout_s if no_answer else outcome.ring_s)
            if no_answer:  # noanswer.txt
                self._channel_event("HangupRequest", two, ("Cause", 19))
                self._channel_event("SoftHangupRequest", two, ("Cause", 16))
                self._settle(call, REASON_NO_ANSWER)
                self._hangup_channel(one, 19)
                self._hangup_channel(two, 19)
            elif outcome.kind == "answer":  # answered.txt
                self._new_state(two, UP)
                self._new_state(one, UP)
                call.answered_at = self._now()
                self._dial_event("DialEnd", call, ("DialStatus", "ANSWER"))
                self._settle(call, REASON_ANSWERED)
                one.context, one.exten = call.request.context, call.request.exten
                one.application, one.app_data = "", ""
                two.application, two.app_data = "Wait", f"{outcome.talk_s:g}"
                queue = self.queue_routes.get((one.context, one.exten))
                if (one.context, one.exten) in self.agent_first_routes:
                    await self._dial_customer(call)
                elif queue is None:
                    await self._sleep(outcome.talk_s)
                else:
                    one.application, one.app_data = "Queue", queue
                    await self._queue_customer(one, queue, outcome)
                self._channel_event("SoftHangupRequest", two, ("Cause", 16))
                self._channel_event("HangupRequest", one, ("Cause", 16))
                self._hangup_channel(two, 16)
                self._channel_event("SoftHangupRequest", one, ("Cause", 16))
                self._hangup_channel(one, 16)
            elif outcome.kind == "busy":  # busy.txt
                self._new_state(two, BUSY)
                self._dial_event("DialEnd", call, ("DialStatus", "BUSY"))
                self._channel_event("HangupRequest", two, ("Cause", 0))
                self._settle(call, REASON_BUSY)
                self._channel_event("SoftHangupRequest", two, ("Cause", 16))
                self._hangup_channel(two, 17)
                self._hangup_channel(one, 0)
            elif outcome.kind == "congestion":  # congestion.txt
                self._new_state(two, BUSY)
                self._dial_event("DialEnd", call, ("DialStatus", "CONGESTION"))
                self._channel_event("HangupRequest", two, ("Cause", 0))
                self._channel_event("SoftHangupRequest", two, ("Cause", 16))
                self._hangup_channel(one, 0)
                self._hangup_channel(two, 34)
                self._settle(call, REASON_CONGESTION)
            elif outcome.kind == "unallocated":  # unallocated.txt
                self._channel_event("SoftHangupRequest", two, ("Cause", 16))
                self._channel_event("HangupRequest", one, ("Cause", 1))
                self._dial_event("DialEnd", call, ("DialStatus", "NOANSWER"))
                self._settle(call, REASON_FAILED)
                self._hangup_channel(two, 1)
                self._hangup_channel(one, 1)
            else:  # "failed", as Local/abc@customers in bad_originate.txt
                self._hangup_channel(two, 0)
                self._settle(call, REASON_FAILED)
                self._hangup_channel(one, 0)
        finally:
            self._release(call)

    async def _dial_customer(self, call: SimCall) -> None:
        """``[dialer-agent-first]``: the answered operator's channel Dial()s the customer,
        as app_dial reports it (the operator's channel calling, the customer's Local pair
        with its Linkedid); returns once the customer's leg has ended."""
        one, variables = call.one, dict(call.request.variables)
        dial = variables.get("DIALER_CUSTOMER", "")
        ring_timeout = (variables.get("DIALER_RING_TIMEOUT") or "").strip()
        timeout_s = float(ring_timeout) if _DIGITS.fullmatch(ring_timeout) else math.inf
        if self.originate_timeout_cap is not None:
            timeout_s = min(timeout_s, self.originate_timeout_cap)
        one.application, one.app_data = "Dial", f"{dial},{ring_timeout}"
        target = parse_dial_target(dial)
        tech = target.tech.lower() if target is not None else ""
        routable = target is not None and (
            tech in KNOWN_TECHS
            and (tech != "local" or self.contexts is None or target.context in self.contexts)
        )
        if target is None or target.number is None or not routable:
            call.dial_status = "CHANUNAVAIL"  # no channel: Dial() fails without a DialEnd
            return
        outcome = self.rule(target.number)
        name, now = f"{dial}-{next(self._local_seq):08x}", self._now()
        place = (target.context, target.user, (one.caller[0], one.caller[1]), now)
        c1 = SimChannel(f"{name};1", self._new_uniqueid(), one.linkedid, *place, DOWN)
        c2 = SimChannel(f"{name};2", self._new_uniqueid(), one.linkedid, *place, RING)
        c1.application, c1.app_data = "AppDial", "(Outgoing Line)"
        call.legs = [c1, c2]
        self._channel_event("Newchannel", c1)
        self._channel_event("Newchannel", c2)

        def dial_event(event: str, *extra: Field) -> None:
            self._emit(event, *one.fields(), *c1.fields("Dest"), *extra)

        def dial_end(status: str) -> None:
            call.dial_status = status
            dial_event("DialEnd", ("DialStatus", status))

        dial_event("DialBegin", ("DialString", target.resource))
        no_answer = outcome.kind == "no_answer" or outcome.ring_s >= timeout_s
        if no_answer or outcome.ring_s > 0:
            self._new_state(c1, RINGING)
            dial_event("DialState", ("DialStatus", "RINGING"))
            await self._sleep(timeout_s if no_answer else outcome.ring_s)
        if no_answer:
            dial_end("NOANSWER")
            self._hangup_leg(call, 0)  # Dial() gives up: no cause on the customer's channels
        elif outcome.kind == "answer":
            self._new_state(c2, UP)
            self._new_state(c1, UP)
            call.dial_answered_at = self._now()
            dial_end("ANSWER")
            await self._sleep(outcome.talk_s)
            self._hangup_leg(call, 16)  # the customer hangs up; Dial() returns
        elif outcome.kind in ("busy", "congestion"):
            self._new_state(c2, BUSY)
            busy = outcome.kind == "busy"
            dial_end("BUSY" if busy else "CONGESTION")
            self._hangup_leg(call, 17 if busy else 34)
        else:  # unallocated: as the Originate's own dial (unallocated.txt), NOANSWER
            self._hangup_leg(call, 1)
            dial_end("NOANSWER")

    def _hangup_leg(self, call: SimCall, cause: int) -> None:
        """The customer's pair of an agent_first call hangs up (the ;2 half first)."""
        legs, call.legs = call.legs, []
        for chan in reversed(legs):
            self._channel_event(
                "Hangup", chan, ("Cause", cause), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
            )

    def _hangup_call(self, call: SimCall, target: SimChannel, cause: int) -> None:
        """End a live call from outside (hangup.txt); if unanswered, the cause gives the Reason."""
        if target in call.legs:  # agent_first: the customer's leg ends, the operator's goes on
            call.dial_status = call.dial_status or "CANCEL"
            self._hangup_leg(call, cause)
            return
        other = call.two if target is call.one else call.one
        if call.task is not None:
            call.task.cancel()
        if call.legs:  # the operator's side went first: Dial() cancels the customer's leg
            if not call.dial_status:
                self._emit(
                    "DialEnd",
                    *call.one.fields(),
                    *call.legs[0].fields("Dest"),
                    ("DialStatus", "CANCEL"),
                )
                call.dial_status = "CANCEL"
            self._hangup_leg(call, 16)
        self._channel_event("SoftHangupRequest", target, ("Cause", 16))
        self._channel_event("HangupRequest", other, ("Cause", cause))
        self._settle(call, REASON_BY_CAUSE.get(cause, REASON_FAILED))
        self._hangup_channel(target, cause)
        self._channel_event("SoftHangupRequest", other, ("Cause", 16))
        self._hangup_channel(other, cause)
        self._release(call)

    def _settle(self, call: SimCall, reason: int) -> None:
        if not call.settled.done():
            call.settled.set_result(reason)
            answered = call.one.name if reason == REASON_ANSWERED else None
            self._originate_response(call.request, reason, call.uniqueid, answered)

    def _release(self, call: SimCall) -> None:
        if self.active_channels.get(call.uniqueid) is call:
            del self.active_channels[call.uniqueid]
        if not call.settled.done():
            call.settled.set_result(REASON_FAILED)

    # --- events ----------------------------------------------------------------------------

    def _emit(self, event: str, *fields: Field, privilege: str = "call,all") -> None:
        """Broadcast to every logged-in session with events on, and to no other."""
        data = encode_frame([("Event", event), ("Privilege", privilege), *fields])
        for client in self._clients:
            if client.wants(data):
                client.send(data)

    def _channel_event(self, event: str, chan: SimChannel, *extra: Field) -> None:
        self._emit(event, *chan.fields(), *extra)
        if event in ("Newchannel", "Hangup"):
            self._device_changed(_device_of(chan.name), 1 if event == "Newchannel" else -1)

    def _device_changed(self, device: str, delta: int) -> None:
        """DeviceStateChange as chan_local reports it: in use while a channel to it lives."""
        before = self._device_channels.get(device, 0)
        after = self._device_channels[device] = max(0, before + delta)
        if not after:
            del self._device_channels[device]
        if bool(before) == bool(after):
            return
        state = ("Device", device), ("State", "INUSE" if after else "NOT_INUSE")
        self._emit("DeviceStateChange", *state)
        for member in self.members:  # a member follows its interface's device state
            if member.interface == device and member.status in (NOT_IN_USE, IN_USE):
                member.status = IN_USE if after else NOT_IN_USE
                self._emit("QueueMemberStatus", *member.live(), privilege=_AGENT)
                self._offer(member.queue)

    async def _getvar(self, client: _Client, frame: AmiFrame, action_id: str | None) -> None:
        """``DEVICE_STATE(device)`` (what the daemon reads of operators outside queues);
        any other variable is unset here, which Asterisk answers with an empty value."""
        variable = (frame.get("Variable") or "").strip()
        if not variable:
            client.error(action_id, "No variable specified")
            return
        value = ""
        if match := re.fullmatch(r"DEVICE_STATE\((.+)\)", variable):
            value = "INUSE" if self._device_channels.get(match[1]) else "NOT_INUSE"
        client.respond("Success", action_id, ("Variable", variable), ("Value", value))

    def _dial_event(self, event: str, call: SimCall, *extra: Field) -> None:
        self._emit(event, *call.one.fields("Dest"), *extra)

    def _new_state(self, chan: SimChannel, state: int) -> None:
        chan.state = state
        self._channel_event("Newstate", chan)

    def _hangup_channel(self, chan: SimChannel, cause: int) -> None:
        call = self.active_channels.get(chan.uniqueid)
        if call is not None and chan is call.one:  # hangup handlers run before the event
            self._run_hangup_handler(call, cause)
        text = CAUSE_TEXT.get(cause, "Unknown")
        self._channel_event("Hangup", chan, ("Cause", cause), ("Cause-txt", text))

    def _originate_response(
        self, request: OriginateRequest, reason: int, uniqueid: str, answered: str | None = None
    ) -> None:
        """Sent for async Originates only; Channel is the new channel's name on success only."""
        if not request.is_async:
            return
        fields: list[Field] = [] if request.action_id is None else [("ActionID", request.action_id)]
        fields += [("Response", "Success" if answered else "Failure")]
        fields += [("Channel", answered or request.channel), ("Context", request.context)]
        fields += [("Exten", request.exten), ("Reason", reason), ("Uniqueid", uniqueid)]
        fields += [("CallerIDNum", request.caller[0]), ("CallerIDName", request.caller[1])]
        self._emit("OriginateResponse", *fields)

    # --- helpers ---------------------------------------------------------------------------

    def _live_channels(self) -> list[SimChannel]:
        calls = self.active_channels.values()
        return [chan for call in calls for chan in (call.one, call.two, *call.legs)]

    def _find_channel(self, name_or_uniqueid: str) -> tuple[SimCall, SimChannel] | None:
        for call in self.active_channels.values():
            for chan in (call.one, call.two, *call.legs):
                if name_or_uniqueid in (chan.name, chan.uniqueid):
                    return call, chan
        return None

    def _new_uniqueid(self) -> str:
        return f"{int(self.clock())}.{next(self._uid_seq)}"

    def _age_s(self, chan: SimChannel) -> int:
        return int((self._now() - chan.created_at) * self.time_scale)

    def _duration(self, chan: SimChannel) -> str:
        s = self._age_s(chan)
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _sleep(self, simulated_s: float) -> None:
        await asyncio.sleep(simulated_s / self.time_scale)
