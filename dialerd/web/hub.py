"""The console's one event stream: the engine's facts in, typed messages out to each page.

Fed by two synchronous hooks that must never block the engine: the operator board's
``on_change`` (``on_operator``) and the engine's listeners (``on_engine_event``). Each
page subscribes with its user and role and gets a bounded queue; a page too slow to keep
up is dropped (it reconnects and starts again from ``hello``), so one stuck browser never
grows the daemon's memory. Operators get only their own messages; supervisors every
operator's ``state`` and the PBX link.

A card is rendered once per offer (a store read and a template, a few ms) and kept until
the operator records a result, so a page that reconnects gets the same card back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from dialerd.dialer.board import Operator, OperatorBoard
from dialerd.dialer.events import EngineEvent, OfferMissed
from dialerd.domain import FinishedCall, Outcome
from dialerd.pbx.events import PbxConnected, PbxDisconnected
from dialerd.web.messages import message, state_message
from dialerd.web.presence import OperatorView, view_of

log = structlog.get_logger(__name__)

QUEUE_LIMIT = 256  # messages a page may fall behind before it is dropped
TICK_S = 1.0  # wrap-up and missed-call rests end by time alone: look again this often

Payload = dict[str, Any]


@dataclass(frozen=True)
class Card:
    call_id: str
    lead_id: int
    html: str
    at: float
    ended: bool = False
    outcome: str | None = None

    def payload(self) -> Payload:
        return message(
            "card",
            call_id=self.call_id,
            lead_id=self.lead_id,
            html=self.html,
            at=self.at,
            ended=self.ended,
            outcome=self.outcome,
        )


# (call_id, operator) -> (lead_id, html), None when the call is not that operator's
CardSource = Callable[[str, str], Awaitable[tuple[int, str] | None]]
CountSource = Callable[[str], Awaitable[Payload]]
AwaitingSource = Callable[[str], Awaitable[str | None]]  # operator -> call awaiting a result


@dataclass(eq=False)
class Subscription:
    user: str
    role: str
    queue: asyncio.Queue[Payload | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))


class Hub:
    def __init__(
        self,
        board: Callable[[], OperatorBoard],
        cards: CardSource,
        counts: CountSource,
        awaiting: AwaitingSource,
        pbx_connected: Callable[[], bool],
        clock: Callable[[], float],
    ) -> None:
        self._board = board
        self._cards_of = cards
        self._counts_of = counts
        self._awaiting = awaiting
        self._pbx_connected = pbx_connected
        self._clock = clock
        self._subs: set[Subscription] = set()
        self._views: dict[str, tuple[OperatorView, float]] = {}  # name -> (view, since)
        self._cards: dict[str, Card] = {}  # operator -> the card on their screen
        self._offered: dict[str, str] = {}  # operator -> call id of the offer being rendered
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        # the supervisors' wallboard (issue 13): told of every change, asked at hello
        self._wallboard_poke: Callable[[bool], None] | None = None
        self._wallboard_now: Callable[[], Awaitable[Payload]] | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick(), name="console-hub-tick")

    async def close(self) -> None:
        """Every open stream ends (its page reconnects to the next daemon), tasks stop."""
        for sub in list(self._subs):
            self._end(sub)
        tasks = [*self._tasks, *([self._ticker] if self._ticker else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- pages ----------------------------------------------------------------------------
    def subscribe(self, user: str, role: str) -> Subscription:
        sub = Subscription(user, role)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    async def hello(self, user: str, role: str) -> Payload:
        """Everything a page shows, as of now; the stream's first message."""
        now = self._clock()
        operator = self._board().operators.get(user)
        state = None
        card = None
        counts = None
        if operator is not None:
            view, since = self._remember(operator, now)
            state = state_message(view, since)
            counts = await self._counts_of(user)
            card = await self._card_for(operator, now)
        hello = message(
            "hello",
            user=user,
            role=role,
            pbx=self._pbx_connected(),
            operator=state,
            counts=counts,
            card=card.payload() if card is not None else None,
            at=now,
        )
        if role == "supervisor" and self._wallboard_now is not None:
            hello["wallboard"] = await self._wallboard_now()
        return hello

    def forget_card(self, operator: str, call_id: str, result: str) -> None:
        """A result was recorded: the card leaves every page of that operator."""
        card = self._cards.get(operator)
        if card is not None and card.call_id == call_id:
            del self._cards[operator]
        self._to_operator(operator, message("saved", call_id=call_id, result=result))
        self._spawn(lambda: self._send_counts(operator))
        self.poke_wallboard(True)

    # --- facts in -------------------------------------------------------------------------
    def on_operator(self, operator: Operator, at: float | None) -> None:
        """The board's hook: a state change, a hold taken or released."""
        now = self._clock() if at is None else at
        self._publish_view(operator, now)
        self.poke_wallboard(False)
        call = operator.current
        if not self._watching(operator.name):
            return  # nobody to show it to: a page that opens renders it in hello
        if call is not None and self._offered.get(operator.name) != call.call_id:
            known = self._cards.get(operator.name)
            if known is None or known.call_id != call.call_id:
                self._offered[operator.name] = call.call_id
                self._spawn(lambda: self._offer(operator.name, call.call_id, call.since))

    def on_engine_event(self, event: EngineEvent) -> None:
        self.poke_wallboard(isinstance(event, FinishedCall))
        match event:
            case PbxConnected() | PbxDisconnected():
                connected = isinstance(event, PbxConnected)
                self._broadcast(message("pbx", connected=connected, at=event.at))
            case FinishedCall(operator=str(name)):
                self._finished(name, event.call_id, event.outcome.value, event.ended_at)
            case OfferMissed(operator=str(name)):
                # agent_first: the operator did not pick up, so the customer was never dialed
                self._finished(name, event.call_id, "missed", event.at)

    # --- the supervisors' wallboard (issue 13) ----------------------------------------------
    def attach_wallboard(
        self, poke: Callable[[bool], None], now: Callable[[], Awaitable[Payload]]
    ) -> None:
        """``poke(today_changed)`` at every change; ``now()`` for a supervisor's hello."""
        self._wallboard_poke, self._wallboard_now = poke, now

    def views(self, now: float) -> list[tuple[OperatorView, float]]:
        """Every operator's view and since when, as the pages were (or are now) told."""
        out = []
        for operator in list(self._board().operators.values()):
            self._publish_view(operator, now)
            out.append(self._views[operator.name])
        return out

    @property
    def supervisors(self) -> int:
        return sum(1 for sub in self._subs if sub.role == "supervisor")

    def to_supervisors(self, payload: Payload) -> None:
        for sub in list(self._subs):
            if sub.role == "supervisor":
                self._put(sub, payload)

    def poke_wallboard(self, today_changed: bool = False) -> None:
        """Something the wallboard shows changed (an action from the console itself)."""
        if self._wallboard_poke is not None:
            self._wallboard_poke(today_changed)

    # --- inside ---------------------------------------------------------------------------
    def _finished(self, name: str, call_id: str, outcome: str, at: float) -> None:
        card = self._cards.get(name)
        if card is not None and card.call_id == call_id:
            if outcome == Outcome.ANSWERED.value:
                self._cards[name] = Card(
                    card.call_id, card.lead_id, card.html, card.at, True, outcome
                )
            else:  # nobody to record a result for: the customer never came on the line
                del self._cards[name]
        if self._offered.get(name) == call_id:
            del self._offered[name]
        self._to_operator(name, message("ended", call_id=call_id, outcome=outcome, at=at))
        if self._watching(name):
            self._spawn(lambda: self._send_counts(name))

    async def _offer(self, name: str, call_id: str, at: float) -> None:
        found = await self._cards_of(call_id, name)
        if found is None or self._offered.get(name) != call_id:
            return  # not theirs after all, or already over
        card = Card(call_id, found[0], found[1], at)
        self._cards[name] = card
        self._to_operator(name, card.payload())

    async def _card_for(self, operator: Operator, now: float) -> Card | None:
        card = self._cards.get(operator.name)
        if card is not None:
            return card
        live = operator.current
        call_id = live.call_id if live is not None else await self._awaiting(operator.name)
        if call_id is None:
            return None
        found = await self._cards_of(call_id, operator.name)
        if found is None:
            return None
        card = Card(
            call_id,
            found[0],
            found[1],
            live.since if live is not None else now,
            ended=live is None,
            outcome=None if live is not None else Outcome.ANSWERED.value,
        )
        self._cards[operator.name] = card
        return card

    async def _send_counts(self, name: str) -> None:
        counts = await self._counts_of(name)
        self._to_operator(name, counts)

    def _remember(self, operator: Operator, now: float) -> tuple[OperatorView, float]:
        view = view_of(operator, now)
        known = self._views.get(operator.name)
        if known is not None and _same(known[0], view):
            return known
        self._views[operator.name] = (view, now)
        return view, now

    def _publish_view(self, operator: Operator, now: float) -> None:
        before = self._views.get(operator.name)
        view, since = self._remember(operator, now)
        if before is None or before[1] != since:
            payload = state_message(view, since)
            self._to_operator(operator.name, payload)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = self._clock()
            for operator in list(self._board().operators.values()):
                self._publish_view(operator, now)

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work()`` as a task the hub owns (created inside it, so a task cancelled before
        it starts leaves no coroutine behind)."""

        async def run() -> None:
            try:
                await work()
            except Exception:  # a store hiccup must not end the stream for everyone
                log.exception("console_update_failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _watching(self, name: str) -> bool:
        """Whether a page of this operator is open: cards and counts cost store reads."""
        return any(sub.user == name for sub in self._subs)

    def _to_operator(self, name: str, payload: Payload) -> None:
        for sub in list(self._subs):
            if sub.user == name or (sub.role == "supervisor" and payload["type"] == "state"):
                self._put(sub, payload)

    def _broadcast(self, payload: Payload) -> None:
        for sub in list(self._subs):
            self._put(sub, payload)

    def _put(self, sub: Subscription, payload: Payload) -> None:
        try:
            sub.queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("console_page_dropped", user=sub.user, why="too far behind")
            self._end(sub)

    def _end(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        with contextlib.suppress(asyncio.QueueEmpty):
            while sub.queue.full():
                sub.queue.get_nowait()
        sub.queue.put_nowait(None)  # the stream ends; the page reconnects


def _same(a: OperatorView, b: OperatorView) -> bool:
    return (a.presence, a.pause_reason, a.call_id, a.wrapup_until) == (
        b.presence,
        b.pause_reason,
        b.call_id,
        b.wrapup_until,
    )
