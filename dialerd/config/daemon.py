"""The ``daemon`` section: the process's lifecycle under systemd (R12)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dialerd.config.values import Section


class DaemonSettings(Section):
    """Process lifecycle under systemd (R12); read once at start."""

    # SIGTERM: stop dialing, wait this long for calls in flight, then exit anyway (the calls
    # left are reconciled at the next start). systemd's TimeoutStopSec must be longer.
    drain_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
