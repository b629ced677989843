"""The ``console`` section: the operators' (and supervisors') web screens served by the daemon.

The console is its own listener, apart from the API: operators' PCs must reach it across
the LAN (``host``, with TLS from ``tls_cert``/``tls_key``), while the API stays on loopback
for the shop's own systems. Passwords are never in the YAML: ``dialerd operators passwd
NAME`` writes slow hashes to ``passwords_file``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dialerd.config.values import Section

Language = Literal["en", "ru"]
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_FIELD = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


_DEVICE = re.compile(r"^[A-Za-z][A-Za-z0-9]*/[A-Za-z0-9_.@+-]{1,80}$")


class SupervisorSettings(Section):
    """Someone who signs in with role ``supervisor`` (the wallboard and the lead desk).

    ``device``: the supervisor's own phone (``PJSIP/301``), which the console rings to listen
    to an operator's live call (Asterisk's ChanSpy); none: no listening. ``whisper`` and
    ``barge`` allow speaking to the operator only, or to both sides.
    """

    name: str
    language: Language | None = None
    device: str | None = None
    whisper: bool = False
    barge: bool = False

    @field_validator("device")
    @classmethod
    def _device(cls, value: str | None) -> str | None:
        if value is not None and not _DEVICE.match(value):
            raise ValueError(f"{value!r}: a device such as PJSIP/301 or Local/301@phones")
        return value

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use 1-64 letters, digits, '_', '.', '@', '-'")
        return value


class WallboardSettings(Section):
    """When an operator's time in a state shows as an overrun on the wallboard (seconds)."""

    ringing_limit_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    talking_limit_s: Annotated[float, Field(gt=0, le=86400)] = 1200.0
    wrapup_limit_s: Annotated[float, Field(gt=0, le=86400)] = 120.0
    paused_limit_s: Annotated[float, Field(gt=0, le=86400)] = 900.0


class ConsoleSettings(Section):
    """Where the console listens, how long a sign-in lasts, and what the lead card shows."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8441  # 0: any free port (tests)
    tls_cert: Path | None = None  # both or neither: uvicorn serves HTTPS, cookies get Secure
    tls_key: Path | None = None
    passwords_file: Path | None = None  # default: console.passwords beside the store
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    language: Language = "en"  # for people whose own entry names none
    supervisors: list[SupervisorSettings] = []
    # lead metadata keys the card shows, in this order (others stay in the store, unseen)
    card_fields: list[str] = []
    wallboard: WallboardSettings = WallboardSettings()

    @field_validator("card_fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _FIELD.match(name):
                raise ValueError(f"{name!r}: use 1-64 letters, digits, '_', '.', '-'")
        if len(set(value)) != len(value):
            raise ValueError("a field is listed twice")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ConsoleSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None
