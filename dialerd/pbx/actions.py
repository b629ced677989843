"""The AMI actions that need composing, apart from the socket: the Originate (every value
checked for control characters before anything is written) and the event filter's
expression. The adapter (``dialerd.pbx.ami``) sends them; one-line actions it writes inline.
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


def event_filter(names: Iterable[str]) -> str:
    """The AMI whitelist regex for these event names (panoramisk ``*`` patterns allowed)."""
    wanted = sorted({*names, "OriginateResponse"})
    pattern = "|".join(re.escape(name).replace(r"\*", "[A-Za-z]*") for name in wanted)
    return f"Event: ({pattern})\\b"
