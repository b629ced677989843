"""The outbox delivery worker: POST each pending result to the CRM webhook until it answers 2xx.

A task owned by the service (``assembled()``), run by the due-queue worker
(``dialerd.delivery.worker``): it sleeps until woken by an enqueue in this process, a poke
on the wake socket (``dialerd outbox retry``, the CLI) or the next retry time; it never
polls fast. Messages go one at a time, oldest due first, so the CRM sees a lead's results
in order. What is retried and what is parked is ``dialerd.policy.delivery``; nothing is
marked delivered before the 2xx, so a crash can only cause a repeat with the same
``Idempotency-Key``, never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import httpx
import structlog

from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import CrmSettings
from dialerd.delivery.http import webhook_client
from dialerd.delivery.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from dialerd.delivery.worker import DueWorker, Tried
from dialerd.policy.delivery import RetryRules, Step
from dialerd.store import outbox
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)

USER_AGENT = "dialerd/0.1 (+crm-webhook)"


class OutboxWorker:
    """``async with OutboxWorker(db, settings.crm, secret):`` delivers in the background.

    The CRM outbox as a due queue (``dialerd.delivery.worker.DueQueue``) and the task that
    works it.
    """

    def __init__(
        self,
        db: Store,
        settings: CrmSettings,
        secret: str | None,
        *,
        clock: Clock = WALL_CLOCK,
        on_change: Callable[[], None] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._settings = settings
        self._secret = secret
        self._clock = clock
        self._on_change = on_change
        self._worker = DueWorker(
            self,
            RetryRules(settings.max_tries, settings.backoff_initial_s, settings.backoff_max_s),
            error_event="crm_outbox_error",
            error_pause_s=min(settings.backoff_max_s, 30.0),
            # httpx's timeout is per step (connect, send, each read): the whole try, 3 of them
            try_limit_s=3 * settings.timeout_s,
            clock=clock,
            jitter=jitter,
        )
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def wake(self) -> None:
        """Something may be due now (a new message, a retried one)."""
        self._worker.wake()

    async def __aenter__(self) -> OutboxWorker:
        self._unsubscribe = outbox.on_enqueue(self._db.conn, self.wake)
        if self._settings.url is None:
            log.info("crm_push_disabled", why="crm.url is not set; results stay in the outbox")
            return self
        if self._secret is None:
            raise ValueError("a CRM URL needs its secret")
        self._client = webhook_client(self._settings.timeout_s)
        self._task = asyncio.create_task(self._worker.run(), name="crm-outbox")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
        if self._unsubscribe is not None:
            self._unsubscribe()

    # --- the outbox as a due queue -------------------------------------------------------
    async def next_due(self, now: float, claim_until: float) -> outbox.Message | None:
        return await outbox.next_due(self._db, now, claim_until)

    async def next_try_at(self) -> float | None:
        return await outbox.next_try_at(self._db)

    def tries(self, message: outbox.Message) -> int:
        return message.attempts

    async def send(self, message: outbox.Message) -> Tried:
        assert self._client is not None and self._secret is not None and self._settings.url
        body = message.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: message.key,
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: str(int(self._clock())),
        }
        try:
            response = await self._client.post(self._settings.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Tried(None, f"timeout after {self._settings.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Tried(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        status = response.status_code
        error = None if response.is_success else f"HTTP {status}: {response.text[:200]}"
        return Tried(status, error, _seconds(response.headers.get("Retry-After")))

    async def record(self, message: outbox.Message, tried: Tried, step: Step, now: float) -> None:
        error = tried.error
        await outbox.record_try(self._db, message.id, step.state, step.next_try_at, error, now)
        bound = log.bind(
            lead_id=message.lead_id,
            key=message.key,
            tries=message.attempts + 1,
            status=tried.status,
        )
        if step.state == "delivered":
            bound.info("crm_delivered")
        elif step.state == "parked":
            bound.error("crm_parked", why=step.why, error=error)
        else:
            bound.warning("crm_retry", why=step.why, error=error)
        if self._on_change is not None:
            self._on_change()


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is ignored: the backoff applies)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
