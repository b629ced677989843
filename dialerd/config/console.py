"""The ``console`` section: the operators' (and supervisors') web screens served by the daemon.

The console is its own listener, apart from the API: operators' PCs must reach it across
the LAN (``host``, with TLS from ``tls_cert``/``tls_key``), while the API stays on loopback
for the shop's own systems. Passwords are never in the YAML: ``dialerd operators passwd
NAME`` writes slow hashes to ``passwords_file``.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dialerd.config.values import Section

Language = Literal["en", "ru"]
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
_ICE_URL = re.compile(r"^(stun|stuns|turn|turns):[A-Za-z0-9.\[\]:-]+(\?transport=(udp|tcp))?$")
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


class BrowserPhoneSettings(Section):
    """``console.phone``: where operators' pages reach Asterisk as their phone (issue 14).

    The page registers to Asterisk's WebSocket (``ws_url``: ``wss://`` in production;
    ``ws://`` only for a console opened on loopback) with the SIP password of its
    operator's endpoint, which the daemon reads from ``passwords_file`` (``"201":
    password`` a line) and hands to that operator's signed-in page only.
    """

    ws_url: str
    sip_domain: str | None = None  # the SIP URI's domain; default: ws_url's host
    passwords_file: Path
    # STUN/TURN servers the browsers use for ICE (operators behind NAT; README)
    ice_servers: list[str] = []
    # a TURN server's shared secret (coturn use-auth-secret): each page gets credentials
    # made from it that expire after turn_ttl_h, never the secret itself
    turn_secret_file: Path | None = None
    turn_ttl_h: Annotated[float, Field(gt=0, le=24 * 7)] = 12.0

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("must be a ws:// or wss:// URL, e.g. wss://pbx.example.com:8089/ws")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("no user, password, query or fragment in the URL")
        if not _HOST.match(parts.hostname) or not value.isprintable() or " " in value:
            raise ValueError(f"{value!r}: not a plain host name or address")
        try:
            parts.port  # noqa: B018 -- raises on a bad port
        except ValueError:
            raise ValueError(f"{value!r}: bad port") from None
        return value

    @field_validator("sip_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r}: a host name or address, e.g. pbx.example.com")
        return value

    @field_validator("ice_servers")
    @classmethod
    def _ice(cls, value: list[str]) -> list[str]:
        for url in value:
            if not _ICE_URL.match(url):
                raise ValueError(f"{url!r}: expected stun:HOST[:PORT] or turn:HOST[:PORT]")
        return value

    @property
    def origin(self) -> str:
        """``ws_url``'s origin (scheme://host[:port]): the one the CSP's connect-src allows."""
        parts = urllib.parse.urlsplit(self.ws_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def domain(self) -> str:
        return self.sip_domain or urllib.parse.urlsplit(self.ws_url).hostname or ""


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
    phone: BrowserPhoneSettings | None = None  # the browser phone; None: operators use desk phones

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
