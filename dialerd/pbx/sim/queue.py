"""Queue members for the AMI simulator, with the frames app_queue sends about them.

Field names and order as Asterisk 22.10.1 sends them (``transcripts-22.10.1/queue.txt``,
``queuestatus.txt``): a QueueStatus answer lists ``QueueMember`` with ``Name``/``Location``
and its ActionID last; live ``QueueMemberStatus``/``QueueMemberPause`` say
``MemberName``/``Interface`` and carry ``Ringinuse``. Status is Asterisk's device state
number (1 not in use, 2 in use, 5 unavailable, 6 ringing).

Every epoch time a member reports (``LastCall``, ``LastPause``, ``LoginTime``) is on the
simulator's clock, the one the daemon compares it with: on a simulated day the wall
clock's ``LastCall`` would lie in that day's future or past, and a member whose last call
"ended" tomorrow looks busy in wrap-up forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Field = tuple[str, object]
QueueFate = Literal["answer", "abandon", "leave"]
NOT_IN_USE, IN_USE = 1, 2


@dataclass(eq=False)
class SimMember:
    queue: str
    interface: str
    name: str
    login_time: int  # epoch seconds on the simulator's clock
    status: int = NOT_IN_USE
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False  # offered a caller, talking, or rung by an Originate
    calls_taken: int = 0
    last_call: int = 0  # epoch seconds on the simulator's clock, as Asterisk reports it
    last_pause: int = 0  # epoch seconds of the last pause (an unpause keeps it)
    wrapup_ends: float = 0.0  # event-loop clock: not offered a caller before then

    def available(self, loop_now: float) -> bool:
        """Offered the next caller: not in use, not paused, not in a call, wrap-up over."""
        return self.free and self.wrapup_ends <= loop_now

    @property
    def free(self) -> bool:
        return self.status == NOT_IN_USE and not self.paused and not self.in_call

    def pause(self, paused: bool, reason: str, now: float) -> None:
        """QueuePause: the reason given, or none (an unpause without one clears it)."""
        self.paused, self.paused_reason = paused, reason
        if paused:
            self.last_pause = int(now)

    def listed(self, action_id: str | None) -> list[Field]:
        """``QueueMember`` in a QueueStatus answer."""
        head: list[Field] = [("Queue", self.queue), ("Name", self.name)]
        head += [("Location", self.interface), ("StateInterface", self.interface)]
        tail: list[Field] = [("Wrapuptime", 0)]
        if action_id is not None:
            tail.append(("ActionID", action_id))
        return [*head, *self._state(), *tail]

    def live(self) -> list[Field]:
        """``QueueMemberStatus`` / ``QueueMemberPause`` / ``QueueMemberAdded``."""
        head: list[Field] = [("Queue", self.queue), ("MemberName", self.name)]
        head += [("Interface", self.interface), ("StateInterface", self.interface)]
        return [*head, *self._state(), ("Ringinuse", 0), ("Wrapuptime", 0)]

    def _state(self) -> list[Field]:
        return [
            ("Membership", "static"),
            ("Penalty", 0),
            ("CallsTaken", self.calls_taken),
            ("LastCall", self.last_call),
            ("LastPause", self.last_pause),
            ("LoginTime", self.login_time),
            ("InCall", int(self.in_call)),
            ("Status", self.status),
            ("Paused", int(self.paused)),
            ("PausedReason", self.paused_reason),
        ]


def queue_params(queue: str, calls: int, action_id: str | None) -> list[Field]:
    fields: list[Field] = [("Queue", queue), ("Max", 0), ("Strategy", "rrmemory")]
    fields += [("Calls", calls), ("Holdtime", 0), ("TalkTime", 0), ("Completed", 0)]
    fields += [("Abandoned", 0), ("ServiceLevel", 0), ("ServicelevelPerf", "0.0")]
    fields += [("ServicelevelPerf2", "0.0"), ("Weight", 0)]
    return fields if action_id is None else [*fields, ("ActionID", action_id)]
