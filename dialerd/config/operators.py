"""The ``groups`` and ``operators`` sections (issue 4): who answers, through which queue,
and the checks across sections (groups defined, names unique, every mode staffed).

Every value that reaches an AMI action is checked for control characters here, at the edge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dialerd.config.values import AmiText, Section
from dialerd.policy.ami_safety import check_ami_value
from dialerd.policy.modes import DialMode

MAX_AFTER_CALL_WORK_S = 600  # longer than 10 minutes is a pause, with a reason
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CHANNEL = re.compile(r"^[A-Za-z0-9_]+/\S+$")  # TECH/resource, e.g. PJSIP/101, Local/101@operators


class GroupSettings(Section):
    """A working group of operators: the Asterisk queue they answer, where answered customers go."""

    queue: AmiText | None = None
    context: AmiText | None = None  # customer_first: where an answered customer goes (queue entry)
    exten: AmiText | None = None
    # the queue's wrapuptime (queues.conf): AMI reports only a member's own, so say it here
    wrapup_s: Annotated[float, Field(ge=0, le=3600)] = 0.0
    # the dialer's wrap-up after an answered call (issue 12): at most this long, ended early
    # by the call's result or "ready"; a queue member is paused in Asterisk meanwhile. 0: none
    after_call_work_s: Annotated[float, Field(ge=0, le=MAX_AFTER_CALL_WORK_S)] = 0.0


_SIP_USER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class OperatorPhoneSettings(Section):
    """``operators[].phone``: this operator's console page is their phone (issue 14).

    The page registers as PJSIP endpoint ``sip_user`` (default: the resource of the
    operator's ``PJSIP/...`` device or interface), so queue membership and device state
    are those of a desk phone on the same endpoint.
    """

    sip_user: str | None = None
    auto_answer: bool = False  # answer every call at once (the operator hears a short tone)

    @field_validator("sip_user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _SIP_USER.match(value):
            raise ValueError(f"{value!r}: use 1-64 letters, digits, '_', '.', '-'")
        return value


class OperatorSettings(Section):
    """One operator: the device agent_first rings and/or the queue member interface."""

    name: str
    group: str
    device: str | None = None
    interface: str | None = None
    language: Literal["en", "ru"] | None = None  # the console's language; None: console.language
    phone: OperatorPhoneSettings | None = None  # the browser phone (console.phone says where)
    # several PBXs: the one (its ami name) the operator's phone and queue membership are on;
    # None: the first PBX listed
    pbx: str | None = None

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

    @model_validator(mode="after")
    def _phone_is_the_device(self) -> OperatorSettings:
        """The page must register as the endpoint the operator's calls go to."""
        if self.phone is None:
            return self
        if self.sip_user is None:
            raise ValueError(
                "phone: give sip_user, or a PJSIP/<user> device or interface to take it from"
            )
        if f"PJSIP/{self.sip_user}" not in (self.device, self.interface):
            raise ValueError(
                f"phone.sip_user {self.sip_user!r}: the operator's calls go to "
                f"{self.dial_device}, not to the browser phone; make the device or the "
                f"interface PJSIP/{self.sip_user}"
            )
        return self

    @property
    def sip_user(self) -> str | None:
        """The browser phone's PJSIP endpoint (None without a browser phone, or when it
        cannot be told: two different PJSIP endpoints and no ``phone.sip_user``)."""
        if self.phone is None:
            return None
        if self.phone.sip_user is not None:
            return self.phone.sip_user
        pjsip = {c[6:] for c in (self.device, self.interface) if c and c.startswith("PJSIP/")}
        return next(iter(pjsip)) if len(pjsip) == 1 else None

    @property
    def dial_device(self) -> str:
        """What agent_first originates to."""
        return self.device or self.interface or ""

    @property
    def member_interface(self) -> str:
        """How the operator appears in QueueStatus / QueueMemberStatus (``Interface``)."""
        return self.interface or self.device or ""


Problem = tuple[tuple[str, ...], str]  # field path, message


def operator_problems(
    groups: Mapping[str, GroupSettings],
    operators: Sequence[OperatorSettings],
    campaigns: Mapping[str, tuple[DialMode, str | None]],
    phone_section: object | None = None,
) -> list[Problem]:
    """Cross-section checks: names unique, groups defined, modes that need operators have
    them, a browser phone only with ``console.phone`` and each SIP user used once."""
    problems: list[Problem] = []
    sip_users: dict[str, int] = {}
    for name in groups:
        if not _NAME.match(name):
            problems.append((("groups", name), "use 1-64 letters, digits, '_', '.', '@', '-'"))
    seen: dict[str, int] = {}
    interfaces: dict[tuple[str, str, str], int] = {}
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
        if operator.phone is not None and phone_section is None:
            problems.append(
                (
                    (*where, "phone"),
                    "a browser phone needs console.phone (ws_url, passwords_file)",
                )
            )
        if (user := operator.sip_user) is not None:
            if user in sip_users:
                problems.append(
                    ((*where, "phone"), f"SIP user {user!r} is already operators.{sip_users[user]}")
                )
            sip_users.setdefault(user, index)
        key = (operator.pbx or "", operator.group, operator.member_interface)
        if key in interfaces:
            problems.append((where, f"interface {key[2]} is already operators.{interfaces[key]}"))
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
        elif mode is DialMode.SURVEY:
            continue  # no operator group (checked with the campaign)
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
