"""The ``missed_calls`` section: inbound calls missed in a queue become callback leads (R1)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dialerd.config.values import Section


class MissedCallSettings(Section):
    """Inbound calls missed or abandoned in the queue become callback leads (R1)."""

    enabled: bool = True
    queues: list[str] = []  # inbound queues to watch; empty: every queue
    campaign: str | None = None  # None: the default campaign
    callback_target_min: Annotated[float, Field(gt=0, le=24 * 60)] = 5.0
