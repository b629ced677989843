"""Time as the engine sees it: the wall clock, or the demo's faster simulated day.

Everything that decides takes ``now`` from a Clock; everything that sleeps turns
simulated seconds into real ones with ``real_seconds``, so the demo runs the
production engine at x1000 without a line of special-casing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clock:
    speed: float = 1.0  # simulated seconds per real second
    start: float | None = None  # simulated time at creation; None: the wall clock's
    _real0: float = field(default_factory=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")

    def __call__(self) -> float:
        start = self._real0 if self.start is None else self.start
        return start + (time.time() - self._real0) * self.speed

    def real_seconds(self, simulated: float) -> float:
        return simulated / self.speed


WALL_CLOCK = Clock()
