"""Group commit for intake: concurrent POSTs share one write transaction, and one fsync.

``synchronous=FULL`` costs an fsync per commit (milliseconds), which would cap single
POSTs at a few hundred a second. Requests that arrive while a commit is running wait
for the next one, which takes all of them: every answer is still sent only after its
lead is durably committed, and a lone request waits for no timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from dialerd.config import Settings
from dialerd.intake.leads import Accepted, Duplicate, submit_many_in
from dialerd.store import idempotency
from dialerd.store.leads import NewLead
from dialerd.store.sql import STORE_ERRORS, Store, is_conflict

log = structlog.get_logger(__name__)

MAX_LEADS_PER_COMMIT = 5000
CONFLICT_TRIES = 3  # a commit PostgreSQL rolled back to break a deadlock is tried again
PRUNE_EVERY_S = 600.0

IntakeResult = Accepted | Duplicate
# turns the intake results of a request's leads into its answer (status, JSON body)
Answer = Callable[[list[IntakeResult]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    replayed: bool = False


class KeyReused(Exception):
    """The Idempotency-Key was used before for a different request."""


@dataclass
class _Job:
    leads: list[NewLead]
    answer: Answer
    key: idempotency.Key | None
    done: asyncio.Future[Reply] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class IntakeWriter:
    def __init__(
        self,
        db: Store,
        settings: Callable[[], Settings],
        *,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._on_commit = on_commit
        self._queue: list[_Job] = []
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0

    async def submit(
        self, leads: list[NewLead], answer: Answer, key: idempotency.Key | None = None
    ) -> Reply:
        """Commit ``leads`` (with the next group) and return the request's answer.

        With a key already used: the stored answer (``replayed``), or KeyReused if the
        request differs from the one that used it.
        """
        job = _Job(leads, answer, key)
        self._queue.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="api-intake-writer")
        return await asyncio.shield(job.done)

    async def close(self) -> None:
        """Finish what is queued (the server stops taking requests first)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _drain(self) -> None:
        while self._queue:
            group: list[_Job] = []
            size = 0
            while self._queue and (
                not group or size + len(self._queue[0].leads) <= MAX_LEADS_PER_COMMIT
            ):
                job = self._queue.pop(0)
                group.append(job)
                size += len(job.leads)
            try:
                replies, accepted = await self._commit_retrying(group)
            except Exception as exc:  # the transaction rolled back: nothing of the group is stored
                log.exception("intake_commit_failed", requests=len(group), leads=size)
                for job in group:
                    if not job.done.done():
                        job.done.set_exception(exc)
                continue
            for job, reply in zip(group, replies, strict=True):
                if isinstance(reply, Exception):
                    job.done.set_exception(reply)
                else:
                    job.done.set_result(reply)
            if accepted:
                self._on_commit()

    async def _commit_retrying(self, group: list[_Job]) -> tuple[list[Reply | Exception], int]:
        """``_commit``, again if PostgreSQL rolled it back against a claim running at the
        same time (a deadlock it broke): the second try finds the leads as they are then."""
        for _ in range(CONFLICT_TRIES - 1):
            try:
                return await self._commit(group)
            except STORE_ERRORS as exc:
                if not is_conflict(exc):
                    raise
                log.info("intake_conflict_retried", error=str(exc))
        return await self._commit(group)

    async def _commit(self, group: list[_Job]) -> tuple[list[Reply | Exception], int]:
        settings = self._settings()
        async with self._db.transaction() as conn:
            now = self._clock()
            keys = [job.key for job in group if job.key is not None]
            stored = await idempotency.lookup_many(conn, keys) if keys else {}
            replies: list[Reply | Exception | None] = [None] * len(group)
            runs, owner = _plan(group, stored, replies)
            results = await submit_many_in(
                conn, [lead for i in runs for lead in group[i].leads], settings, now
            )
            saves = []
            at = 0
            for i in runs:
                job = group[i]
                status, body = job.answer(results[at : at + len(job.leads)])
                at += len(job.leads)
                replies[i] = Reply(status, body)
                if job.key is not None:
                    saves.append((job.key, status, body))
            for i, job in enumerate(group):
                if replies[i] is None and job.key is not None:  # a key's second use in the group
                    first = owner[(job.key.token_name, job.key.key)]
                    reply, first_key = replies[first], group[first].key
                    assert isinstance(reply, Reply) and first_key is not None
                    stored_reply = idempotency.Stored(
                        first_key.fingerprint, reply.status, reply.body
                    )
                    replies[i] = _replay(stored_reply, job.key)
            await idempotency.save_many(conn, saves, now)
            if now - self._pruned_at > PRUNE_EVERY_S:
                self._pruned_at = now
                pruned = await idempotency.prune(conn, now - settings.api.idempotency_ttl_h * 3600)
                if pruned:
                    log.info("idempotency_keys_pruned", count=pruned)
        accepted = sum(1 for r in results if isinstance(r, Accepted) and r.closed_as is None)
        return [r for r in replies if r is not None], accepted


def _plan(
    group: list[_Job],
    stored: dict[tuple[str, str], idempotency.Stored],
    replies: list[Reply | Exception | None],
) -> tuple[list[int], dict[tuple[str, str], int]]:
    """Which jobs run (indexes), and each key's first job; stored keys are answered at once."""
    runs: list[int] = []
    owner: dict[tuple[str, str], int] = {}
    for i, job in enumerate(group):
        if job.key is None:
            runs.append(i)
            continue
        ident = (job.key.token_name, job.key.key)
        if ident in stored:
            replies[i] = _replay(stored[ident], job.key)
        elif ident not in owner:
            owner[ident] = i
            runs.append(i)
    return runs, owner


def _replay(stored: idempotency.Stored, key: idempotency.Key) -> Reply | Exception:
    if stored.fingerprint != key.fingerprint:
        return KeyReused(key.key)
    return Reply(stored.status, stored.body, replayed=True)
