"""sd_notify without libsystemd: the datagrams systemd would receive."""

import socket
import uuid
from pathlib import Path

import pytest

from dialerd.daemon.sdnotify import Notifier, watchdog_interval_s


def receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_path_socket_gets_the_lines_as_one_datagram(tmp_path: Path):
    path = str(tmp_path / "notify")
    with receiver(path) as sock, Notifier.from_env({"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.send("READY=1", "STATUS=dialing")
        assert sock.recv(4096) == b"READY=1\nSTATUS=dialing"


def test_abstract_socket_named_with_at():
    name = f"dialerd-test-{uuid.uuid4().hex}"
    with (
        receiver("\0" + name) as sock,
        Notifier.from_env({"NOTIFY_SOCKET": "@" + name}) as notifier,
    ):
        assert notifier.send("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "vsock:2:9"}])
def test_without_a_usable_socket_nothing_is_sent(environ: dict[str, str]):
    with Notifier.from_env(environ) as notifier:
        assert not notifier.enabled
        assert not notifier.send("READY=1")


def test_a_vanished_manager_is_not_an_error(tmp_path: Path):
    with Notifier(str(tmp_path / "gone")) as notifier:
        assert notifier.enabled
        assert not notifier.send("STOPPING=1")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),  # WatchdogSec=30s: ping every 15 s
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "4242"}, 0.5),
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(environ, expected):
    assert watchdog_interval_s(environ, pid=4242) == expected
