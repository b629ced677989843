"""The AMI actions that need composing, apart from the socket: the Originate and the
QueuePause (every value checked for control characters before anything is written) and the
event filter's expression. The adapter (``dialerd.pbx.ami``) sends them; one-line actions
it writes inline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dialerd.policy.ami_safety import check_ami_value


@dataclass(frozen=True)
class OriginateRequest:
    call_id: str  # becomes the channel's Uniqueid (AMI ChannelId)
    action_id: str
    channel: str
    context: str
    exten: str
    priority: int
    timeout_s: float
    caller_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    # The dialplan subroutine (context) that writes the call's end into AstDB; None: none.
    hangup_handler: str | None = None

    def to_action(self) -> dict[str, Any]:
        """The AMI action, every value checked: raises UnsafeAmiValue before anything is sent."""
        action: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": self.action_id,
            "ChannelId": self.call_id,
            "Channel": self.channel,
            "Context": self.context,
            "Exten": self.exten,
            "Priority": str(self.priority),
            "Timeout": str(int(self.timeout_s * 1000)),
            "Async": "true",
        }
        if self.caller_id:
            action["CallerID"] = self.caller_id
        variables = [f"{name}={value}" for name, value in self.variables.items()]
        if self.hangup_handler:
            # Quoted: AMI splits a Variable header on commas outside quotes (seen on Asterisk 22).
            variables.append(f'CHANNEL(hangup_handler_push)="{self.hangup_handler},s,1"')
        if variables:
            action["Variable"] = variables
        for value in action.values():
            for item in value if isinstance(value, list) else [value]:
                check_ami_value(item)
        return action


@dataclass(frozen=True)
class QueuePauseRequest:
    """Pause (or resume) a queue member, as a supervisor's console does (issue 12).

    ``queue`` None pauses the interface in every queue it is a member of (Asterisk's rule
    when ``Queue`` is absent). A resume sends no ``Reason``: Asterisk clears the member's
    ``PausedReason`` on an unpause without one (seen on 22.10.1).
    """

    interface: str
    paused: bool
    reason: str | None = None
    queue: str | None = None

    def to_action(self) -> dict[str, str]:
        """The AMI action, every value checked: raises UnsafeAmiValue before anything is sent."""
        action = {
            "Action": "QueuePause",
            "Interface": self.interface,
            "Paused": "true" if self.paused else "false",
        }
        if self.queue is not None:
            action["Queue"] = self.queue
        if self.paused and self.reason:
            action["Reason"] = self.reason
        for value in action.values():
            check_ami_value(value)
        return action


@dataclass(frozen=True)
class SpyRequest:
    """Ring a supervisor's phone and, once answered, listen to an operator's call (issue 13).

    An Originate of ``device`` into the ``ChanSpy`` application on the operator's channels:
    ``spied`` is a channel name prefix ending in ``-`` (``PJSIP/201-`` matches that phone's
    channels, never ``PJSIP/2010-``). Options: ``q`` no beep or name announced, ``E`` hang
    up when the spied channel does, ``w`` whisper to the operator, ``B`` barge (talk to both).
    """

    call_id: str
    action_id: str
    device: str
    spied: str
    mode: str  # listen | whisper | barge
    caller_id: str
    timeout_s: float

    def to_action(self) -> dict[str, str]:
        """The AMI action, every value checked: raises UnsafeAmiValue before anything is sent."""
        options = "qE" + {"listen": "", "whisper": "w", "barge": "B"}[self.mode]
        if "," in self.spied or "," in self.device:
            raise ValueError("a channel name with a comma cannot be an application argument")
        action = {
            "Action": "Originate",
            "ActionID": self.action_id,
            "ChannelId": self.call_id,
            "Channel": self.device,
            "Application": "ChanSpy",
            "Data": f"{self.spied},{options}",
            "CallerID": self.caller_id,
            "Timeout": str(int(self.timeout_s * 1000)),
            "Async": "true",
        }
        for value in action.values():
            check_ami_value(value)
        return action


@dataclass(frozen=True)
class RedirectRequest:
    """Send a live channel to another place in the dialplan (the post-call survey)."""

    channel: str  # the channel's name, as CoreShowChannels lists it
    context: str
    exten: str
    priority: int = 1

    def to_action(self) -> dict[str, str]:
        """The AMI action, every value checked: raises UnsafeAmiValue before anything is sent."""
        action = {
            "Action": "Redirect",
            "Channel": self.channel,
            "Context": self.context,
            "Exten": self.exten,
            "Priority": str(self.priority),
        }
        for value in action.values():
            check_ami_value(value)
        return action


def event_filters(names: Iterable[str]) -> list[dict[str, str]]:
    """The AMI ``Filter`` actions that whitelist these event names, one per name.

    ``MatchCriteria: name(X)`` makes Asterisk (22; 21 and 20 since 2024) compare the event's
    name first, an exact match: a filter that is only a regex is tried against the whole
    text of every event the PBX makes, dozens per call, and that is Asterisk's CPU. The
    regex, ``Event: X``, then runs on X's events only (Asterisk 22 refuses a name criterion
    with a ``Filter`` text unless ``method(regex)`` says how to use it), and an Asterisk
    that does not know ``MatchCriteria`` ignores it and uses the regex alone: either way
    exactly these events arrive. panoramisk ``*`` patterns keep the plain regex.
    """
    actions: list[dict[str, str]] = []
    for name in sorted({*names, "OriginateResponse"}):
        pattern = re.escape(name).replace(r"\*", "[A-Za-z]*")
        regex = f"Event: {pattern}\\b"
        action = {"Action": "Filter", "Operation": "Add", "Filter": regex}
        if "*" not in name:
            action["MatchCriteria"] = f"name({name}),method(regex)"
        actions.append(action)
    return actions
