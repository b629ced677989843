"""An independent AMI connection for tests and benchmarks: Asterisk's own view of the calls.

Deliberately not the daemon's adapter (nor panoramisk): a plain asyncio client that
logs in, records every event with its arrival time, runs actions (QueuePause, an
"inbound" Originate, CoreShowChannels) and can poll the channel list to find the
most customer calls Asterisk ever held at once — the figure the dialer's limits
are checked against, instead of the daemon's own counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Frame = dict[str, str]


@dataclass
class Seen:
    at: float  # time.monotonic()
    frame: Frame

    @property
    def name(self) -> str:
        return self.frame.get("Event", "")


@dataclass
class AmiObserver:
    host: str
    port: int
    username: str
    secret: str
    events: list[Seen] = field(default_factory=list)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _pending: dict[str, tuple[asyncio.Future[list[Frame]], list[Frame], bool]] = field(
        default_factory=dict
    )
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _task: asyncio.Task[None] | None = None
    _poller: asyncio.Task[None] | None = None
    peak: int = 0  # most customer calls up at once (in two samples in a row): ``watch_channels``
    raw_peak: int = 0  # the same in any single sample
    samples: int = 0
    #: False: log in with ``Events: off`` (answers to actions only), so a bench's observer
    #: does not make Asterisk write it every event of every call
    receive_events: bool = True

    @classmethod
    def of(cls, instance: Any, **options: Any) -> AmiObserver:
        """For an ``AsteriskInstance`` (tests/support/asterisk.py): its observers' AMI user,
        which gets every event whatever the daemon's user filters out."""
        from support.asterisk import OBSERVER_USER

        return cls(instance.host, instance.port, OBSERVER_USER, instance.secret, **options)

    async def __aenter__(self) -> AmiObserver:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        await self._reader.readline()  # banner
        self._task = asyncio.create_task(self._read(), name="observer-read")
        login = {"Action": "Login", "Username": self.username, "Secret": self.secret}
        if not self.receive_events:
            login["Events"] = "off"
        reply = await self.action(login)
        if reply[0].get("Response") != "Success":
            raise RuntimeError(f"observer login refused: {reply[0].get('Message')}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in (self._poller, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()

    async def action(self, fields: dict[str, str], *, as_list: bool = False) -> list[Frame]:
        """Send an action; its response (and, for lists, every item up to *Complete)."""
        assert self._writer is not None
        action_id = f"obs-{next(self._ids)}"
        future: asyncio.Future[list[Frame]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = (future, [], as_list)
        lines = [f"ActionID: {action_id}"] + [f"{k}: {v}" for k, v in fields.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(10):
            return await future

    async def channels(self) -> list[Frame]:
        frames = await self.action({"Action": "CoreShowChannels"}, as_list=True)
        return [f for f in frames if f.get("Event") == "CoreShowChannel"]

    async def customer_channels(self) -> list[Frame]:
        """One per customer call: the ``;2`` half of ``Local/<number>@customers``."""
        return [c for c in await self.channels() if is_customer(c.get("Channel", ""))]

    def watch_channels(
        self, every_s: float = 0.05, *, count: Callable[[Frame], bool] | None = None
    ) -> None:
        """Poll CoreShowChannels in the background, keeping the peak in ``peak``.

        A call's legs do not vanish at the same instant: the customer's half of a Local
        channel can still be listed for a few milliseconds after the call's own channel is
        gone (and the dialer has started the next call). A call that really runs over a
        limit lasts seconds (the customer's phone rings, they talk), so ``peak`` counts
        what two samples in a row agree on; ``raw_peak`` is the single-sample maximum.
        """
        match = count or (lambda c: is_customer(c.get("Channel", "")))

        async def poll() -> None:
            previous = 0
            while True:
                found = sum(1 for c in await self.channels() if match(c))
                self.raw_peak = max(self.raw_peak, found)
                self.peak = max(self.peak, min(previous, found))
                previous = found
                self.samples += 1
                await asyncio.sleep(every_s)

        self._poller = asyncio.create_task(poll(), name="observer-poll")

    def named(self, *names: str) -> list[Seen]:
        return [seen for seen in self.events if seen.name in names]

    async def wait_for(self, predicate: Callable[[], bool], within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within_s} s waiting for {what}")
            await asyncio.sleep(0.05)

    async def _read(self) -> None:
        assert self._reader is not None
        frame: Frame = {}
        while True:
            raw = await self._reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(":")
                frame.setdefault(key.strip(), value.strip())
                continue
            if frame:
                self._deliver(frame)
            frame = {}

    def _deliver(self, frame: Frame) -> None:
        pending = self._pending.get(frame.get("ActionID", ""))
        if pending is None:
            if "Event" in frame:
                self.events.append(Seen(time.monotonic(), frame))
            return
        future, collected, as_list = pending
        collected.append(frame)
        done = (
            not as_list
            or frame.get("EventList") == "Complete"
            or (frame.get("Response") == "Error")
        )
        if done:
            self._pending.pop(frame["ActionID"], None)
            if not future.done():
                future.set_result(collected)


def is_customer(channel: str) -> bool:
    return channel.startswith("Local/") and "@customers-" in channel and channel.endswith(";2")
