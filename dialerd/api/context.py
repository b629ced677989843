"""What the API's handlers need from the daemon, and who is calling (bearer tokens)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dialerd.api.errors import ApiError
from dialerd.api.writer import IntakeWriter
from dialerd.config import Settings
from dialerd.policy.pick import Policy
from dialerd.store.db import Database

ANONYMOUS = "anonymous"


@dataclass
class ApiContext:
    """The daemon's parts as the API sees them; settings and policy follow a SIGHUP reload."""

    db: Database  # the daemon's single writer
    reader: Database  # a second connection: reads never see another task's open transaction
    writer: IntakeWriter
    settings: Callable[[], Settings]
    policy: Callable[[], Policy]
    wake: Callable[[], None]
    ami_connected: Callable[[], bool]
    tokens: dict[str, bytes]  # name -> token, resolved once at start
    clock: Callable[[], float] = time.time

    def caller(self, authorization: str | None) -> str:
        """The name of the token presented (``Authorization: Bearer <token>``), or ApiError 401."""
        if not self.settings().api.require_token:
            return ANONYMOUS
        challenge = {"WWW-Authenticate": 'Bearer realm="dialerd"'}
        if not authorization:
            raise ApiError(
                401,
                "unauthorized",
                "an Authorization: Bearer <token> header is required",
                headers=challenge,
            )
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(
                401, "unauthorized", "use Authorization: Bearer <token>", headers=challenge
            )
        given = presented.strip().encode("latin-1")  # headers arrive as latin-1 text
        found = None
        for name, token in self.tokens.items():  # every token compared: no early exit to time
            if hmac.compare_digest(given, token) and found is None:
                found = name
        if found is None:
            raise ApiError(401, "unauthorized", "the token is not valid", headers=challenge)
        return found


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


_bearer = HTTPBearer(auto_error=False, description="a token from api.tokens, by its name")


def caller(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> str:
    """FastAPI dependency: authenticate, and remember the token's name for the access log.

    (The HTTPBearer parameter only declares the scheme in /openapi.json; the header is
    checked here, so every failure has the API's one error shape.)
    """
    name = context(request).caller(request.headers.get("authorization"))
    request.state.caller = name
    return name
