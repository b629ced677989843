"""One daemon per store: an OS file lock next to the store, held for the daemon's life.

A second daemon on the same store would dial from the same pool and, on its way out, take
the first one's wake socket with it. ``flock`` rather than a pid file: the kernel drops the
lock when the holder dies, even by SIGKILL, so a stale file never blocks the next start and
no pid is ever guessed alive. The holder writes its pid and start time into the file only so
that a refused daemon can name it.

The file is never deleted: removing it while another process waits to open it would let two
processes lock two different files of the same name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from dialerd.domain import InUse


class StoreLocked(InUse):
    """Another daemon holds the store's lock."""

    def __init__(self, store: Path, holder: str) -> None:
        super().__init__(f"another dialerd ({holder}) is running on {store}")
        self.store = store


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock")


@contextlib.contextmanager
def store_lock(store: Path) -> Iterator[Path]:
    """Hold the lock of ``store`` until the block ends; raise StoreLocked if another holds it.

    Creates the store's directory, as opening the store would: this is the daemon's first
    touch of it.
    """
    path = lock_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLocked(store, _holder(fd)) from None
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started_at": started}).encode() + b"\n", 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # still locked: nobody reads a half-cleared file
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """``pid N, started T`` from the holder's file; it may not have written it yet."""
    try:
        info = json.loads(os.pread(fd, 4096, 0))
        return f"pid {int(info['pid'])}, started {info['started_at']}"
    except (ValueError, KeyError, TypeError):
        return "pid unknown: it is starting"
