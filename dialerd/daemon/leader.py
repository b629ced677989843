"""The leader among the daemons on one PostgreSQL store: the one that does what must be done
once, not once per daemon — push results to the CRM, raise and send alerts, run the
scheduled reports.

Every daemon dials; only the holder of one advisory lock (``SoleRecorder`` on the fact
'leader') runs these duties. The others try for the lock every ``check_s``. A leader that
stops or dies ends its session and frees the lock at once; one that hangs (a stopped
process, a frozen host) is cut off by the server after ``silence_s`` without a word
(``idle_session_timeout``); either way another daemon leads within ``silence_s + check_s``.
A leader that finds it lost the lock (its connection cut) stops its duties before it tries
again. Should an old leader still be mid-send when an heir starts, the queues' own claims
(``dialerd.delivery.worker``) keep the two from sending one message twice: the lock is
the efficiency, the claims are the guarantee.

On SQLite (one daemon per store) the daemon is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack

import structlog

from dialerd.store.pg import PgDatabase
from dialerd.store.sole_recorder import SoleRecorder
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)

LEADER_FACT = "leader"
CHECK_S = 2.0  # how often a follower tries for the lock, and a leader says it is alive


class Leader:
    """``async with Leader(db, duties, holder=daemon_id, silence_s=lease_s):`` runs
    ``duties`` (entered in order, closed in reverse) while this daemon leads.

    The duties are entered again after each takeover, so each must be re-enterable. At
    start the lock is tried once before the block runs: a daemon alone on its store leads
    from its first moment, and a duty that cannot start fails the start, as on SQLite.
    """

    def __init__(
        self,
        db: Store,
        duties: Sequence[AbstractAsyncContextManager[object]],
        *,
        holder: str = "",
        silence_s: float = 30.0,
    ) -> None:
        self._db = db
        self._duties = tuple(duties)
        self._lock = SoleRecorder(db, LEADER_FACT, silence_s=silence_s, holder=holder)
        self._check_s = min(CHECK_S, silence_s / 3)
        self._stack: AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def leading(self) -> bool:
        return self._stack is not None

    async def __aenter__(self) -> Leader:
        if not isinstance(self._db, PgDatabase):
            await self._lead()
            return self
        if await self._lock.take():
            try:
                await self._lead()
            except BaseException:
                await self._lock.close()
                raise
        else:
            log.info("leader_elsewhere", retry_s=self._check_s)
        self._task = asyncio.create_task(self._follow(), name="leader")
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Said before the cancel, and looked at after each try: a cancel that arrives as a
        # connection completes may be lost inside the driver (Python 3.11's wait_for), and
        # the loop must end all the same, or the daemon's stop waits for it forever.
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._step_down()
        await self._lock.close()

    async def _lead(self) -> None:
        stack = AsyncExitStack()
        try:
            for duty in self._duties:
                await stack.enter_async_context(duty)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        if isinstance(self._db, PgDatabase):
            log.info("leader_taken")

    async def _step_down(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _follow(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._check_s)
            held = await self._lock.take()
            if self._closing:
                return
            if held and not self.leading:
                try:
                    await self._lead()
                except Exception:
                    log.exception("leader_duties_failed")
                    await self._lock.close()  # let another daemon try them
            elif not held and self.leading:
                log.warning("leader_lost")
                await self._step_down()
