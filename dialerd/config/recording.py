"""The ``recording`` section: Asterisk records every answered call (MixMonitor); the daemon
names the file, so every value here ends up in a dialplan argument and is checked for it."""

from __future__ import annotations

import re
import string
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import field_validator

from dialerd.config.values import Section
from dialerd.policy.ami_safety import check_ami_value

RECORDING_FIELDS = frozenset({"date", "time", "call_id", "lead_id", "attempt", "campaign"})


class RecordingSettings(Section):
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
