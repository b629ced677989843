"""Sending queued alerts, one message per channel, with the CRM outbox's retry rule.

The alerts table as a due queue (``dialerd.delivery.worker``). An alert that a channel
refuses or that still fails after ``alerts.max_tries`` is marked ``failed`` and logged at
error level (the log is the channel of last resort).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import structlog

from dialerd.alerts.channels import Channel
from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import AlertsSettings
from dialerd.delivery.worker import DueWorker, Tried
from dialerd.policy.delivery import RetryRules, Step
from dialerd.store import alerts as store
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)

_STATES = {"delivered": "sent", "parked": "failed", "pending": "pending"}


class AlertSender:
    """``run()`` as a task, ``wake()`` when an alert was raised."""

    def __init__(
        self,
        db: Store,
        settings: AlertsSettings,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = WALL_CLOCK,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._channels = channels
        self._worker = DueWorker(
            self,
            RetryRules(settings.max_tries, settings.backoff_initial_s, settings.backoff_max_s),
            error_event="alert_sender_error",
            error_pause_s=30.0,
            # a channel's timeout applies per step (connect, TLS, each SMTP command or read)
            try_limit_s=3 * max(settings.webhook.timeout_s, settings.email.timeout_s),
            clock=clock,
            jitter=jitter,
        )

    def wake(self) -> None:
        self._worker.wake()

    async def run(self) -> None:
        await self._worker.run()

    # --- the alerts table as a due queue -------------------------------------------------
    async def next_due(self, now: float, claim_until: float) -> store.Outgoing | None:
        return await store.next_due(self._db, now, claim_until)

    async def next_try_at(self) -> float | None:
        return await store.next_try_at(self._db)

    def tries(self, alert: store.Outgoing) -> int:
        return alert.attempts

    async def send(self, alert: store.Outgoing) -> Tried:
        channel = self._channels.get(alert.channel)
        if channel is None:  # the channel was removed from the config since
            return Tried(400, f"channel {alert.channel} is not configured")
        status, error = await channel.send(alert)
        return Tried(status, error)

    async def record(self, alert: store.Outgoing, tried: Tried, step: Step, now: float) -> None:
        state, error = _STATES[step.state], tried.error
        await store.record_try(self._db, alert.id, state, step.next_try_at, error, now)
        bound = log.bind(alert_id=alert.id, kind=alert.kind, channel=alert.channel)
        if state == "sent":
            bound.info("alert_sent")
        elif state == "failed":
            bound.error("alert_failed", why=step.why, error=error, subject=alert.subject)
        else:
            bound.warning("alert_retry", why=step.why, error=error)
