"""What the console's handlers need from the daemon; settings and policy follow a reload."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from dialerd.web.wallboard import Wallboard

from dialerd.config import Settings
from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.originate import Track
from dialerd.pbx.actions import SpyRequest
from dialerd.pbx.events import OriginateRefused, OriginateResult
from dialerd.policy.login_limit import LoginLimiter
from dialerd.policy.pacing import Pace
from dialerd.policy.pick import Policy
from dialerd.store.campaign_pauses import CampaignPause
from dialerd.store.sql import Store
from dialerd.web.hub import Hub


@dataclass
class Desk:
    """What an operator's buttons do to the engine (pause, resume, ready): its thin facade."""

    pause: Callable[[str, str], Awaitable[None]]
    resume: Callable[[str], Awaitable[None]]
    ready: Callable[[str], None]
    # (call id, dialplan context): send the customer's channel to the post-call survey
    survey: Callable[[str, str], Awaitable[None]] | None = None


@dataclass
class Floor:
    """What the supervisor's screens read from and ask of the engine (issue 13)."""

    tracks: Callable[[], Iterable[Track]]  # calls in flight
    paces: Callable[[], Mapping[str, Pace]]  # the pace in force per campaign
    paused: Callable[[], Mapping[str, CampaignPause]]  # campaigns a supervisor paused
    pause: Callable[[str, str, str | None], Awaitable[bool]]  # (campaign, user, note)
    resume: Callable[[str, str], Awaitable[bool]]  # (campaign, user)
    spy: Callable[[SpyRequest], Awaitable[OriginateResult | OriginateRefused]]


def no_floor() -> Floor:
    """An engine with nothing to show (a console made without one, in tests)."""

    async def refuse(*_: object) -> bool:
        raise RuntimeError("no engine")

    async def no_spy(_: SpyRequest) -> OriginateResult | OriginateRefused:
        raise RuntimeError("no engine")

    return Floor(lambda: (), dict, dict, refuse, refuse, no_spy)


@dataclass
class ConsoleContext:
    db: Store  # the daemon's single writer
    reader: Store  # a second connection for pages: reads never wait on the engine's writes
    settings: Callable[[], Settings]
    policy: Callable[[], Policy]
    board: Callable[[], OperatorBoard]
    hub: Hub
    desk: Desk
    wake: Callable[[], None]
    passwords: Path
    clock: Callable[[], float] = time.time
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    floor: Floor = field(default_factory=no_floor)
    wallboard: Wallboard | None = None  # set when the console starts
    # the browser phones' SIP passwords by SIP user: read at start and on reload
    sip_passwords: Callable[[], Mapping[str, str]] = dict


def console(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.ctx
    return ctx
