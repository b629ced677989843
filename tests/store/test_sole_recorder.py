"""One holder of a lock among daemons on a PostgreSQL store, and the leader's hand-over:
a holder that stops talking (a hung host) loses the lock to the next daemon that asks."""

from __future__ import annotations

import asyncio

import pytest

from dialerd.store.sole_recorder import SoleRecorder, holder

pytestmark = pytest.mark.engines("postgresql")


async def test_a_silent_holder_is_cut_off_and_the_next_daemon_takes_the_lock(db):
    first = SoleRecorder(db, "leader", silence_s=1.0, holder="first")
    second = SoleRecorder(db, "leader", silence_s=1.0, holder="second")
    try:
        assert await first.take()
        assert not await second.take()
        assert await holder(db, "leader") == "first"
        assert await first.take()  # still held: each take says a word to the server
        await asyncio.sleep(1.6)  # first says nothing for longer than its silence
        assert await second.take()
        assert await holder(db, "leader") == "second"
        assert not await first.take()  # it finds out, and does not get it back
    finally:
        await first.close()
        await second.close()
    assert await holder(db, "leader") is None  # closing frees it at once


async def test_a_holder_that_keeps_talking_keeps_the_lock(db):
    first = SoleRecorder(db, "leader", silence_s=1.0, holder="first")
    second = SoleRecorder(db, "leader", silence_s=1.0, holder="second")
    try:
        assert await first.take()
        for _ in range(4):
            await asyncio.sleep(0.4)
            assert await first.take()
            assert not await second.take()
    finally:
        await first.close()
        await second.close()
