"""What the console's handlers need from the daemon; settings and policy follow a reload."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from dialerd.config import Settings
from dialerd.dialer.board import OperatorBoard
from dialerd.policy.login_limit import LoginLimiter
from dialerd.policy.pick import Policy
from dialerd.store.db import Database
from dialerd.web.hub import Hub


@dataclass
class Desk:
    """What an operator's buttons do to the engine (pause, resume, ready): its thin facade."""

    pause: Callable[[str, str], Awaitable[None]]
    resume: Callable[[str], Awaitable[None]]
    ready: Callable[[str], None]


@dataclass
class ConsoleContext:
    db: Database  # the daemon's single writer
    reader: Database  # a second connection for pages: reads never wait on the engine's writes
    settings: Callable[[], Settings]
    policy: Callable[[], Policy]
    board: Callable[[], OperatorBoard]
    hub: Hub
    desk: Desk
    wake: Callable[[], None]
    passwords: Path
    clock: Callable[[], float] = time.time
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # the browser phones' SIP passwords by SIP user: read at start and on reload
    sip_passwords: Callable[[], Mapping[str, str]] = dict


def console(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.ctx
    return ctx
