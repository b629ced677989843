"""When a part fails, dialing pauses; calls in flight are still followed and recorded.

Two faults hold new calls back (issue 11):

- Asterisk refuses an Originate, or creates no channel for it: nobody was dialed, so it
  is not an attempt. The pause doubles with each refusal in a row (``REFUSED_BACKOFF_S``)
  until Asterisk places a call again or the link is made anew.
- The store cannot be written (disk full, I/O error): no call may start that could not
  be recorded. Dialing looks again every ``STORE_RETRY_S``; the first write that lands
  ends it. ``store_full`` and ``store_writable`` are logged once each way, with a
  ``StoreTrouble`` for the listeners.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from dialerd.clock import Clock
from dialerd.store.db import StoreTrouble

log = structlog.get_logger(__name__)

REFUSED_BACKOFF_S = (0.5, 30.0)  # after a refused Originate: first pause, longest pause
STORE_RETRY_S = 2.0  # while the store cannot be written: how often to try again


class DialingHold:
    """Until when no new call may start, and why (the PBX refusing, the store full)."""

    def __init__(
        self,
        clock: Clock,
        emit: Callable[[StoreTrouble], None],
        in_flight: Callable[[], int],
    ) -> None:
        self._clock = clock
        self._emit = emit
        self._in_flight = in_flight
        self.until = 0.0
        self.refusals = 0  # Originates refused in a row
        self.store_error: str | None = None  # set while the store cannot be written

    def held_s(self, now: float) -> float:
        """How long dialing stays held from ``now`` (0 or less: not held)."""
        return self.until - now

    def store_failed(self, exc: BaseException) -> None:
        """The store cannot take a write: no new call until it can (a call must be recorded)."""
        self.until = self._clock() + STORE_RETRY_S
        if self.store_error is None:
            self.store_error = str(exc)
            log.error("store_full", error=str(exc), in_flight=self._in_flight())
            self._emit(StoreTrouble(False, str(exc), self._clock()))

    def store_ok(self) -> None:
        """A write landed: if the store was failing, it is writable again."""
        if self.store_error is not None:
            self.store_error = None
            log.warning("store_writable", in_flight=self._in_flight())
            self._emit(StoreTrouble(True, "", self._clock()))

    def refused(self, now: float) -> float:
        """Asterisk placed no call: pause dialing, longer each time in a row; the pause."""
        self.refusals += 1
        low, high = REFUSED_BACKOFF_S
        pause = min(high, low * 2.0 ** (self.refusals - 1))
        self.until = max(self.until, now + pause)
        return pause

    def placing(self) -> None:
        """Asterisk is placing calls: the next refusal starts the back-off from the start."""
        self.refusals = 0

    def reconnected(self) -> None:
        """A fresh AMI link: dial now."""
        self.refusals, self.until = 0, 0.0
