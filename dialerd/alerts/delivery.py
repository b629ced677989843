"""Sending queued alerts, one message per channel, with the CRM outbox's retry rule.

An alert that a channel refuses or that still fails after ``alerts.max_tries`` is marked
``failed`` and logged at error level (the log is the channel of last resort).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping

import structlog

from dialerd.alerts.channels import Channel
from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import AlertsSettings
from dialerd.policy.delivery import RetryRules, after_try
from dialerd.store import alerts as store
from dialerd.store.db import Database

log = structlog.get_logger(__name__)

SAFETY_RECHECK_S = 300.0
_STATES = {"delivered": "sent", "parked": "failed", "pending": "pending"}


class AlertSender:
    def __init__(
        self,
        db: Database,
        settings: AlertsSettings,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = WALL_CLOCK,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._channels = channels
        self._clock = clock
        self._jitter = jitter
        self._rules = RetryRules(
            settings.max_tries, settings.backoff_initial_s, settings.backoff_max_s
        )
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                alert = await store.next_due(self._db, self._clock())
                if alert is not None:
                    await self._send(alert)
                    continue
                due = await store.next_try_at(self._db)
            except Exception:
                log.exception("alert_sender_error")
                await self._sleep(30.0)
                continue
            wait = SAFETY_RECHECK_S if due is None else min(SAFETY_RECHECK_S, due - self._clock())
            await self._sleep(max(0.0, wait))

    async def _send(self, alert: store.Outgoing) -> None:
        channel = self._channels.get(alert.channel)
        status: int | None
        error: str | None
        if channel is None:  # the channel was removed from the config since
            status, error = 400, f"channel {alert.channel} is not configured"
        else:
            status, error = await channel.send(alert)
        now = self._clock()
        step = after_try(status, alert.attempts + 1, self._rules, now, self._jitter())
        state = _STATES[step.state]
        await store.record_try(self._db, alert.id, state, step.next_try_at, error, now)
        bound = log.bind(alert_id=alert.id, kind=alert.kind, channel=alert.channel)
        if state == "sent":
            bound.info("alert_sent")
        elif state == "failed":
            bound.error("alert_failed", why=step.why, error=error, subject=alert.subject)
        else:
            bound.warning("alert_retry", why=step.why, error=error)

    async def _sleep(self, seconds: float) -> None:
        """``seconds`` on the daemon's clock (the demo's runs faster than the wall clock)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._clock.real_seconds(seconds)):
                await self._wake.wait()
        self._wake.clear()
