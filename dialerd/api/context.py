"""What the API's handlers need from the daemon, and who is calling (bearer tokens)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from dialerd.api.errors import ApiError
from dialerd.api.writer import IntakeWriter
from dialerd.config import Settings
from dialerd.policy.pick import Policy
from dialerd.store.sql import Store

ANONYMOUS = "anonymous"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dialerd"'}


@dataclass(frozen=True)
class LiveState:
    """What the engine knows right now, for ``/metrics``."""

    calls_in_flight: int
    operators_free: int
    ami_connected: bool


def no_live_state(_now: float) -> LiveState:
    return LiveState(0, 0, False)


@dataclass
class ApiContext:
    """The daemon's parts as the API sees them; settings and policy follow a SIGHUP reload."""

    db: Store  # the daemon's single writer
    reader: Store  # a second connection: reads never see another task's open transaction
    writer: IntakeWriter
    settings: Callable[[], Settings]
    policy: Callable[[], Policy]
    wake: Callable[[], None]
    ami_connected: Callable[[], bool]
    tokens: dict[str, bytes]  # name -> token, resolved once at start
    clock: Callable[[], float] = time.time
    live: Callable[[float], LiveState] = no_live_state
    # a result was recorded for this operator's call: their after-call work is over
    result_recorded: Callable[[str], None] = lambda _operator: None

    def caller(self, authorization: bytes | None) -> str:
        """The name of the token presented (``Authorization: Bearer <token>``), or ApiError 401."""
        if not self.settings().api.require_token:
            return ANONYMOUS
        if not authorization:
            raise ApiError(
                401,
                "unauthorized",
                "an Authorization: Bearer <token> header is required",
                headers=_CHALLENGE,
            )
        scheme, _, presented = authorization.partition(b" ")
        given = presented.strip()
        if scheme.lower() != b"bearer" or not given:
            raise ApiError(
                401, "unauthorized", "use Authorization: Bearer <token>", headers=_CHALLENGE
            )
        found = None
        for name, token in self.tokens.items():  # every token compared: no early exit to time
            if hmac.compare_digest(given, token) and found is None:
                found = name
        if found is None:
            raise ApiError(401, "unauthorized", "the token is not valid", headers=_CHALLENGE)
        return found


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def caller(request: Request) -> str:
    """The token name the Guard authenticated this request with."""
    name: str = request.state.caller
    return name
