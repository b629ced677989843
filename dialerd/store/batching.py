"""Rows from synchronous callbacks, written by one owned task in short batched transactions.

Why: the engine's event consumer must never wait for the disk, and a storm of events must
not cost one fsync each (STYLE.md lessons 3 and 14). Callbacks only ``put``; the task
writes what piled up about once per ``batch_s`` through the store's single writer; a
failed write keeps its items for the next try; closing writes whatever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

from dialerd.store.sql import STORE_ERRORS, Conn, Store

log = structlog.get_logger(__name__)

T = TypeVar("T")
WriteBatch = Callable[[Conn, list[T]], Awaitable[None]]


class Batcher(Generic[T]):
    def __init__(self, db: Store, write: WriteBatch[T], *, name: str, batch_s: float = 1.0) -> None:
        self._db = db
        self._write = write
        self._name = name
        self._batch_s = batch_s
        self._items: list[T] = []
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def put(self, item: T) -> None:
        self._items.append(item)
        self._ready.set()

    def flush_soon(self) -> None:
        """Write within ``batch_s`` even with nothing queued (a heartbeat)."""
        self._ready.set()

    @property
    def pending(self) -> int:
        return len(self._items)

    async def flush(self) -> None:
        """One transaction with everything queued; on failure the items stay queued."""
        items, self._items = self._items, []
        try:
            async with self._db.transaction() as conn:
                await self._write(conn, items)
        except BaseException:
            self._items[:0] = items
            raise

    async def __aenter__(self) -> Batcher[T]:
        self._task = asyncio.create_task(self._run(), name=self._name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        self._ready.set()
        if self._task is not None:
            await self._task
        if self._items:
            await self.flush()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._batch_s):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return  # the final write is __aexit__'s
            self._ready.clear()
            try:
                await self.flush()
            except STORE_ERRORS as exc:
                log.warning("batch_not_written", batch=self._name, error=str(exc))
                self._ready.set()  # try again after the next pause
