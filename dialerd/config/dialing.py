"""The ``dialing`` section: how calls are placed through Asterisk, the same for every campaign.

Every value that reaches an Originate is checked for control characters here, at the edge.
"""

from __future__ import annotations

import string
from typing import Annotated

from pydantic import Field, field_validator

from dialerd.config.values import AmiText, Section
from dialerd.policy.ami_safety import check_ami_value

_TEMPLATE_FIELDS = {"number", "e164"}


class DialingSettings(Section):
    """How calls are placed through Asterisk (the same for every campaign)."""

    max_concurrent_calls: Annotated[int, Field(ge=1, le=2000)] = 10
    channel_template: str = "PJSIP/{number}@trunk"
    context: AmiText = "dialer-connect"
    exten: AmiText = "s"
    priority: Annotated[int, Field(ge=1)] = 1
    caller_id: AmiText | None = None
    originate_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    safety_recheck_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # agent_first: the operator's phone rings this long; once answered, Asterisk continues
    # at this context/exten, which dials the customer (config/asterisk/extensions.conf)
    agent_first_context: AmiText = "dialer-agent-first"
    agent_first_exten: AmiText = "s"
    operator_ring_timeout_s: Annotated[float, Field(gt=0, le=120)] = 20.0
    operator_missed_pause_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    # The dialplan subroutine pushed as a hangup handler on every call dialerd places: it
    # writes the call's end into AstDB, so a call that ends while dialerd is down (a crash,
    # an AMI drop) is settled from Asterisk's record. null: no handler (settled 'unknown').
    hangup_handler: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = "dialer-hangup"

    @field_validator("channel_template")
    @classmethod
    def _template(cls, value: str) -> str:
        check_ami_value(value)
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if "number" not in fields and "e164" not in fields:
            raise ValueError("must contain {number} (E.164 digits without '+') or {e164}")
        if unknown := fields - _TEMPLATE_FIELDS:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; allowed: {{number}}, {{e164}}"
            )
        return value
