"""The due-queue worker: one loop for every kind of message that waits in the store for its try.

CRM results (``dialerd.crm.delivery``) and alerts (``dialerd.alerts.delivery``) are both
rows with a next-try time. The worker takes the oldest due one, has it sent, records the
answer with ``dialerd.policy.delivery``'s next step (delivered, parked, or pending with a
backoff), and otherwise sleeps until the next try time or a wake; it never polls fast.
One at a time, oldest due first, so a receiver sees one lead's messages in order. What a
kind of message is (its table, its request, its log lines) is its ``DueQueue``.

Several workers may share one queue (daemons on one PostgreSQL store): the worker claims
the message it takes until past the end of its try (``try_limit_s`` bounds the try, the
claim adds ``CLAIM_MARGIN_S`` for recording it), so no other worker sends it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog

from dialerd.clock import WALL_CLOCK, Clock
from dialerd.policy.delivery import RetryRules, Step, after_try

log = structlog.get_logger(__name__)

# Look at the queue at least this often even if nothing woke the worker (a message queued
# by another process whose poke found no daemon is seen at start anyway).
SAFETY_RECHECK_S = 300.0
# A claim outlasts its try by this much: time to record the answer through a slow store.
CLAIM_MARGIN_S = 60.0

Item = TypeVar("Item")


@dataclass(frozen=True)
class Tried:
    """One try's answer in ``dialerd.policy.delivery``'s terms: an HTTP-like status (None: no
    answer at all), the error to keep, and the receiver's ``Retry-After`` if it gave one."""

    status: int | None
    error: str | None
    retry_after_s: float | None = None


class DueQueue(Protocol[Item]):
    """One kind of queued message: where it waits, how it is sent, how a try is recorded."""

    async def next_due(self, now: float, claim_until: float) -> Item | None:
        """The oldest pending item due at ``now`` that no other worker holds, claimed for
        this one until ``claim_until``; or None."""
        ...

    async def next_try_at(self) -> float | None:
        """When the earliest pending item is due (or its claim runs out); None when nothing
        is pending."""
        ...

    def tries(self, item: Item) -> int:
        """Tries the item has had before this one."""
        ...

    async def send(self, item: Item) -> Tried: ...

    async def record(self, item: Item, tried: Tried, step: Step, now: float) -> None:
        """Store the try's result and log it."""
        ...


class DueWorker(Generic[Item]):
    """``run()`` as a task the owner keeps; ``wake()`` when something may be due now.

    ``error_event``: the log event of a failure outside a try (the store), after which the
    worker pauses ``error_pause_s`` and carries on: one bad read must not end deliveries.
    ``try_limit_s``: the longest one try may take (real seconds); a try still unanswered
    then counts as a failed one, so it never outlives its claim.
    """

    def __init__(
        self,
        queue: DueQueue[Item],
        rules: RetryRules,
        *,
        error_event: str,
        error_pause_s: float,
        try_limit_s: float,
        clock: Clock = WALL_CLOCK,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._queue = queue
        self._rules = rules
        self._error_event = error_event
        self._error_pause_s = error_pause_s
        self._try_limit_s = try_limit_s
        self._clock = clock
        self._jitter = jitter
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something may be due now (a new message, a retried one)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                now = self._clock()
                claim_s = self._try_limit_s + CLAIM_MARGIN_S
                item = await self._queue.next_due(now, now + claim_s * self._clock.speed)
                if item is not None:
                    await self._try(item)
                    continue
                due = await self._queue.next_try_at()
            except Exception:
                log.exception(self._error_event)
                await self._sleep(self._error_pause_s)
                continue
            wait = SAFETY_RECHECK_S if due is None else min(SAFETY_RECHECK_S, due - self._clock())
            await self._sleep(max(0.0, wait))

    async def _try(self, item: Item) -> None:
        try:
            async with asyncio.timeout(self._try_limit_s):
                tried = await self._queue.send(item)
        except TimeoutError:
            tried = Tried(None, f"no answer within {self._try_limit_s:g} s")
        now = self._clock()
        tries = self._queue.tries(item) + 1
        step = after_try(tried.status, tries, self._rules, now, self._jitter(), tried.retry_after_s)
        await self._queue.record(item, tried, step, now)

    async def _sleep(self, seconds: float) -> None:
        """``seconds`` on the daemon's clock (the demo's runs faster than the wall clock)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._clock.real_seconds(seconds)):
                await self._wake.wait()
        self._wake.clear()
