"""sd_notify(3) spoken directly: one datagram per message to ``$NOTIFY_SOCKET``.

systemd's ``Type=notify`` waits for ``READY=1``, restarts a daemon whose ``WATCHDOG=1`` pings
stop, and shows ``STATUS=`` in ``systemctl status``. The protocol is a few text lines in a
Unix datagram, so it needs no libsystemd binding. Outside systemd (no ``NOTIFY_SOCKET``)
every call is a no-op, so the same code runs in tests, the demo and a terminal.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    """A datagram socket towards the service manager; ``send`` never raises."""

    def __init__(self, address: str | None) -> None:
        self.address = _socket_address(address)
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # A manager that does not read must never block the event loop: drop instead.
            self._sock.setblocking(False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        return cls(environ.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one message; False if not sent (logged, not raised)."""
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:
            log.warning("sd_notify_failed", error=str(exc), message=lines[0] if lines else "")
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _socket_address(value: str | None) -> str | None:
    """``@name`` is an abstract socket (a leading NUL byte); anything else must be a path."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    log.warning("sd_notify_unsupported_socket", notify_socket=value)
    return None


def watchdog_interval_s(
    environ: Mapping[str, str] = os.environ, pid: int | None = None
) -> float | None:
    """How often to ping: half of ``WATCHDOG_USEC``, or None when the watchdog is not ours.

    ``WATCHDOG_PID``, when set, names the process the watchdog is meant for (sd_watchdog_enabled).
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    with contextlib.suppress(ValueError):
        if owner and int(owner) != (os.getpid() if pid is None else pid):
            return None
        if (value := int(usec)) > 0:
            return value / 2 / 1_000_000
    return None


def monotonic_usec() -> int:
    """``MONOTONIC_USEC=`` for ``RELOADING=1``: CLOCK_MONOTONIC in microseconds."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
