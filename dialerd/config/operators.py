"""Config sections for operators, groups, dialing modes, pacing and recording (issue 4).

Kept apart from ``config.py`` so that file only wires them in. Every value that
reaches an AMI action is checked for control characters here, at the edge.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialerd.policy.ami_safety import check_ami_value
from dialerd.policy.modes import DialMode

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CHANNEL = re.compile(r"^[A-Za-z0-9_]+/\S+$")  # TECH/resource, e.g. PJSIP/101, Local/101@operators


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupSettings(_Section):
    """A working group of operators: the Asterisk queue they answer, where answered customers go."""

    queue: str | None = None
    context: str | None = None  # customer_first: where an answered customer goes (queue entry)
    exten: str | None = None
    # the queue's wrapuptime (queues.conf): AMI reports only a member's own, so say it here
    wrapup_s: Annotated[float, Field(ge=0, le=3600)] = 0.0

    @field_validator("queue", "context", "exten")
    @classmethod
    def _safe(cls, value: str | None) -> str | None:
        if value is not None:
            check_ami_value(value)
        return value


class OperatorSettings(_Section):
    """One operator: the device agent_first rings and/or the queue member interface."""

    name: str
    group: str
    device: str | None = None
    interface: str | None = None

    @field_validator("name", "group")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use 1-64 letters, digits, '_', '.', '@', '-'")
        return value

    @field_validator("device", "interface")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None:
            check_ami_value(value)
            if not _CHANNEL.match(value):
                raise ValueError(f"{value!r}: expected TECH/resource, e.g. PJSIP/101")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> OperatorSettings:
        if self.device is None and self.interface is None:
            raise ValueError("give a device (e.g. PJSIP/101) or a queue interface, or both")
        return self

    @property
    def dial_device(self) -> str:
        """What agent_first originates to."""
        return self.device or self.interface or ""

    @property
    def member_interface(self) -> str:
        """How the operator appears in QueueStatus / QueueMemberStatus (``Interface``)."""
        return self.interface or self.device or ""


class AbandonSettings(_Section):
    """The abandon-rate cap: customer answered, no operator within ``after_s`` (R7)."""

    cap: Annotated[float, Field(gt=0, lt=1)] = 0.03
    window_days: Annotated[float, Field(gt=0, le=366)] = 30.0
    after_s: Annotated[float, Field(gt=0, le=60)] = 2.0


class PredictiveSettings(_Section):
    max_ratio: Annotated[float, Field(ge=1, le=10)] = 3.0
    min_samples: Annotated[int, Field(ge=1, le=100_000)] = 30
    answer_rate_window_min: Annotated[float, Field(gt=0, le=24 * 60)] = 60.0


RECORDING_FIELDS = frozenset({"date", "time", "call_id", "lead_id", "attempt", "campaign"})


class RecordingSettings(_Section):
    """Asterisk records every answered call (MixMonitor); the daemon names the file."""

    enabled: bool = True
    path_template: str = "/var/spool/asterisk/monitor/{date}/{call_id}.wav"

    @field_validator("path_template")
    @classmethod
    def _template(cls, value: str) -> str:
        check_ami_value(value)
        if not value.startswith("/"):
            raise ValueError("must be an absolute path (as Asterisk sees it)")
        if re.search(r"[\s,\"'|()]", value):
            raise ValueError("no spaces, commas, quotes, '|' or parentheses (dialplan arguments)")
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if unknown := fields - RECORDING_FIELDS:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; allowed: "
                + ", ".join(f"{{{f}}}" for f in sorted(RECORDING_FIELDS))
            )
        if "call_id" not in fields:
            raise ValueError("must contain {call_id} so every call gets its own file")
        return value

    def path_for(
        self, *, call_id: str, lead_id: int, attempt: int, campaign: str, at: float, tz: ZoneInfo
    ) -> str:
        local = datetime.fromtimestamp(at, tz)
        return self.path_template.format(
            date=local.strftime("%Y-%m-%d"),
            time=local.strftime("%H%M%S"),
            call_id=call_id,
            lead_id=lead_id,
            attempt=attempt,
            campaign=campaign,
        )


Problem = tuple[tuple[str, ...], str]  # field path, message


def operator_problems(
    groups: Mapping[str, GroupSettings],
    operators: Sequence[OperatorSettings],
    campaigns: Mapping[str, tuple[DialMode, str | None]],
) -> list[Problem]:
    """Cross-section checks: names unique, groups defined, modes that need operators have them."""
    problems: list[Problem] = []
    for name in groups:
        if not _NAME.match(name):
            problems.append((("groups", name), "use 1-64 letters, digits, '_', '.', '@', '-'"))
    seen: dict[str, int] = {}
    interfaces: dict[tuple[str, str], int] = {}
    for index, operator in enumerate(operators):
        where = ("operators", str(index))
        if operator.name in seen:
            problems.append(
                ((*where, "name"), f"{operator.name!r} is already operators.{seen[operator.name]}")
            )
        seen.setdefault(operator.name, index)
        if operator.group not in groups:
            problems.append(
                ((*where, "group"), f"unknown group {operator.group!r} (define it under groups:)")
            )
        key = (operator.group, operator.member_interface)
        if key in interfaces:
            problems.append((where, f"interface {key[1]} is already operators.{interfaces[key]}"))
        interfaces.setdefault(key, index)
    return problems + _campaign_problems(groups, {op.group for op in operators}, campaigns)


def _campaign_problems(
    groups: Mapping[str, GroupSettings],
    staffed: set[str],
    campaigns: Mapping[str, tuple[DialMode, str | None]],
) -> list[Problem]:
    problems: list[Problem] = []
    for name, (mode, group) in campaigns.items():
        where = ("campaigns", name, "group")
        if group is not None and group not in groups:
            problems.append((where, f"unknown group {group!r} (define it under groups:)"))
        elif mode is not DialMode.CUSTOMER_FIRST and group is None:
            problems.append((where, f"mode {mode.value} needs an operator group"))
        elif group is not None and group not in staffed:
            problems.append((where, f"group {group!r} has no operators"))
        elif group is not None and mode.customer_first and groups[group].queue is None:
            # the queue's AgentConnect is how the dialer knows an answered customer got an
            # operator (pacing, abandons); agent_first needs no queue
            problems.append(
                (where, f"mode {mode.value} needs a group with a queue ({group!r} has none)")
            )
    return problems
