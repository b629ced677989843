"""The outbox delivery worker: POST each pending result to the CRM webhook until it answers 2xx.

A task owned by the service (``assembled()``). It sleeps until woken by an enqueue in
this process, a poke on the wake socket (``dialerd outbox retry``, the CLI) or the next
retry time; it never polls fast. Messages go one at a time, oldest due first, so the CRM
sees a lead's results in order. What is retried and what is parked is
``dialerd.policy.delivery``; nothing is marked delivered before the 2xx, so a crash can
only cause a repeat with the same ``Idempotency-Key``, never a loss.
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
from dialerd.delivery.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from dialerd.policy.delivery import RetryRules, after_try
from dialerd.store import outbox
from dialerd.store.db import Database

log = structlog.get_logger(__name__)

# Look at the outbox at least this often even if nothing woke the worker (a message
# enqueued by another process whose poke found no daemon is seen at start anyway).
SAFETY_RECHECK_S = 300.0
USER_AGENT = "dialerd/0.1 (+crm-webhook)"


class OutboxWorker:
    """``async with OutboxWorker(db, settings.crm, secret):`` delivers in the background."""

    def __init__(
        self,
        db: Database,
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
        self._jitter = jitter
        self._rules = RetryRules(
            settings.max_tries, settings.backoff_initial_s, settings.backoff_max_s
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def wake(self) -> None:
        """Something may be due now (a new message, a retried one)."""
        self._wake.set()

    async def __aenter__(self) -> OutboxWorker:
        self._unsubscribe = outbox.on_enqueue(self._db.conn, self.wake)
        if self._settings.url is None:
            log.info("crm_push_disabled", why="crm.url is not set; results stay in the outbox")
            return self
        if self._secret is None:
            raise ValueError("a CRM URL needs its secret")
        self._client = httpx.AsyncClient(
            timeout=self._settings.timeout_s, follow_redirects=False, trust_env=False
        )
        self._task = asyncio.create_task(self._run(), name="crm-outbox")
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

    async def _run(self) -> None:
        while True:
            try:
                message = await outbox.next_due(self._db, self._clock())
                if message is not None:
                    await self._deliver(message)
                    continue
                due = await outbox.next_try_at(self._db)
            except Exception:  # a store error must not end deliveries for good
                log.exception("crm_outbox_error")
                await self._sleep(min(self._settings.backoff_max_s, 30.0))
                continue
            wait = SAFETY_RECHECK_S if due is None else min(SAFETY_RECHECK_S, due - self._clock())
            await self._sleep(max(0.0, wait))

    async def _deliver(self, message: outbox.Message) -> None:
        assert self._client is not None and self._secret is not None and self._settings.url
        body = message.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: message.key,
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: str(int(self._clock())),
        }
        status: int | None = None
        retry_after: float | None = None
        error: str | None = None
        try:
            response = await self._client.post(self._settings.url, content=body, headers=headers)
        except httpx.TimeoutException:
            error = f"timeout after {self._settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            status = response.status_code
            retry_after = _seconds(response.headers.get("Retry-After"))
            if not response.is_success:
                error = f"HTTP {status}: {response.text[:200]}"
        now = self._clock()
        step = after_try(
            status, message.attempts + 1, self._rules, now, self._jitter(), retry_after
        )
        await outbox.record_try(self._db, message.id, step.state, step.next_try_at, error, now)
        bound = log.bind(
            lead_id=message.lead_id, key=message.key, tries=message.attempts + 1, status=status
        )
        if step.state == "delivered":
            bound.info("crm_delivered")
        elif step.state == "parked":
            bound.error("crm_parked", why=step.why, error=error)
        else:
            bound.warning("crm_retry", why=step.why, error=error)
        if self._on_change is not None:
            self._on_change()

    async def _sleep(self, seconds: float) -> None:
        """``seconds`` on the daemon's clock (the demo's runs faster than the wall clock)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._clock.real_seconds(seconds)):
                await self._wake.wait()
        self._wake.clear()


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is ignored: the backoff applies)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
