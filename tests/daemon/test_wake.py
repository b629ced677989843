"""The wake socket (issue 11): a listener removes only the socket it bound, and never takes
the path of another live listener."""

import asyncio
import socket
from pathlib import Path

import pytest

from dialerd.config import ConfigError
from dialerd.daemon.wake import WakeListener, poke
from dialerd.domain import InUse


class Wakes:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.event.set()

    async def seen(self) -> bool:
        async with asyncio.timeout(2):
            await self.event.wait()
        self.event.clear()
        return True


async def test_a_second_listener_is_refused_and_the_first_keeps_its_socket(tmp_path: Path):
    path = tmp_path / "store.sqlite3.wake"
    first = Wakes()
    async with WakeListener(path, first):
        with pytest.raises(InUse, match=f"{path}: another process listens on it"):
            async with WakeListener(path, Wakes()):
                pass
        assert poke(path)
        assert await first.seen()


async def test_a_listener_leaves_a_socket_that_replaced_its_own(tmp_path: Path):
    path = tmp_path / "store.sqlite3.wake"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
        async with WakeListener(path, Wakes()):
            path.unlink()
            other.bind(str(path))  # someone else's socket at the path now
        assert path.exists()
        assert poke(path)
        assert other.recv(1) == b"w"


async def test_a_stale_socket_from_a_killed_daemon_is_replaced(tmp_path: Path):
    path = tmp_path / "store.sqlite3.wake"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        dead.bind(str(path))  # closed without unlinking: what SIGKILL leaves
    wakes = Wakes()
    async with WakeListener(path, wakes):
        assert poke(path)
        assert await wakes.seen()
    assert not path.exists()


async def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path):
    path = tmp_path / "store.sqlite3"
    path.write_text("not a socket")  # e.g. store.wake_socket set to the store itself
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        async with WakeListener(path, Wakes()):
            pass
    assert path.read_text() == "not a socket"


@pytest.mark.engines("sqlite", "postgresql")
async def test_a_command_s_wake_reaches_the_running_daemon_on_either_engine(db, tmp_path: Path):
    """``dnc add`` and ``outbox retry`` wake the daemons after their commit: on SQLite the
    one listening on the socket, on PostgreSQL every daemon LISTENing on the store."""
    from dialerd.daemon.wake import LeadsListener, wake_daemons
    from dialerd.store.pg import PgDatabase

    woken = asyncio.Event()
    path = tmp_path / "d.wake"
    if isinstance(db, PgDatabase):
        listener = LeadsListener(db, woken.set)
        async with listener:
            await asyncio.wait_for(listener.listening.wait(), 5)
            woken.clear()  # the listener looks once when it starts listening
            assert await wake_daemons(db, path) is True
            await asyncio.wait_for(woken.wait(), 5)
        return
    assert await wake_daemons(db, path) is False  # nobody listens yet
    async with WakeListener(path, woken.set):
        assert await wake_daemons(db, path) is True
        await asyncio.wait_for(woken.wait(), 5)
