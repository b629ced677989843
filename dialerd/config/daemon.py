"""The ``daemon`` section: the process's lifecycle under systemd (R12)."""

from __future__ import annotations

import socket
from typing import Annotated

from pydantic import Field

from dialerd.config.values import Section


class DaemonSettings(Section):
    """Process lifecycle under systemd (R12); read once at start."""

    # SIGTERM: stop dialing, wait this long for calls in flight, then exit anyway (the calls
    # left are reconciled at the next start). systemd's TimeoutStopSec must be longer.
    drain_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # PostgreSQL stores (several daemons on one pool of leads): the name this daemon goes by
    # in the store, kept across restarts so a restarted daemon takes back its own calls at
    # once; null: the host's name. Two daemons on one host need two ids.
    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")] | None = (
        None
    )
    # How long a claim holds without the daemon's heartbeat (renewed every third of it): a
    # daemon silent this long is taken for dead and its calls are taken over by another.
    lease_s: Annotated[float, Field(ge=3, le=600)] = 30.0

    @property
    def daemon_id(self) -> str:
        """This daemon's id in a shared store: the configured one, or the host's name."""
        return self.id or socket.gethostname()
