"""The console served by uvicorn inside the daemon's loop, on its own address (and TLS).

Made before the engine (so the engine's hooks can point at it) and entered after it;
until entered, the hooks do nothing. On exit the hub ends every open stream first, so
uvicorn's graceful stop does not wait for pages that would never hang up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
import uvicorn

from dialerd.api.server import (
    STOP_TIMEOUT_S,
    QuietServer,
    bind_socket,
    start_serving,
    stop_serving,
)
from dialerd.config import Settings
from dialerd.config.console_passwords import passwords_path
from dialerd.config.sip_passwords import phone_passwords
from dialerd.dialer.board import Operator, OperatorBoard
from dialerd.dialer.events import EngineEvent
from dialerd.formats import decimal_amount
from dialerd.policy.alerting import Alert
from dialerd.policy.pick import Policy
from dialerd.store import cards as card_store
from dialerd.store import sql
from dialerd.store.sql import Store
from dialerd.web.app import create_console_app
from dialerd.web.card import render_card
from dialerd.web.context import ConsoleContext, Desk, Floor, no_floor
from dialerd.web.hub import Hub, Payload
from dialerd.web.messages import message
from dialerd.web.wallboard import Wallboard
from dialerd.web.wallboard_feed import WallboardFeed

log = structlog.get_logger(__name__)

AWAITING_WINDOW_S = 4 * 3600  # an answered call still without a result comes back this long


class ConsoleServer:
    def __init__(
        self,
        db: Store,
        settings: Callable[[], Settings],
        policy: Callable[[], Policy],
        board: Callable[[], OperatorBoard],
        desk: Desk,
        wake: Callable[[], None],
        pbx_connected: Callable[[], bool],
        clock: Callable[[], float],
        floor: Floor | None = None,
        *,
        sip_passwords: Mapping[str, str] | None = None,
    ) -> None:
        """``floor``: what the supervisor's screens read from and ask of the engine;
        ``sip_passwords``: the browser phones' (``phone_passwords``), read by the caller
        before anything starts so that a bad file refuses the start."""
        self._db = db
        self._floor = floor or no_floor()
        self._feed: WallboardFeed | None = None
        self._settings = settings
        self._policy = policy
        self._board = board
        self._desk = desk
        self._wake = wake
        self._pbx_connected = pbx_connected
        self._clock = clock
        self._sip_passwords: Mapping[str, str] = dict(sip_passwords or {})
        self._stack = contextlib.AsyncExitStack()
        self._server: QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.hub: Hub | None = None
        self.ctx: ConsoleContext | None = None
        self.port = 0

    @property
    def feed(self) -> WallboardFeed | None:
        """The wallboard's feed while the console runs (the bench counts its messages)."""
        return self._feed

    # --- the engine's hooks (no-ops until started) ------------------------------------------
    def on_operator(self, operator: Operator, at: float | None) -> None:
        if self.hub is not None:
            self.hub.on_operator(operator, at)

    def on_engine_event(self, event: EngineEvent) -> None:
        if self.hub is not None:
            self.hub.on_engine_event(event)

    def on_alert(self, alert: Alert, at: float) -> None:
        """The alert monitor's listener: the wallboard shows each alert as it is raised."""
        if self.ctx is not None and self.ctx.wallboard is not None and self._feed is not None:
            self.ctx.wallboard.on_alert(alert, at)
            self._feed.poke()

    def reload_secrets(self, settings: Settings) -> None:
        """Re-read the browser phones' passwords for a reloaded config; ConfigError (and
        the running passwords kept) when the file is bad."""
        self._sip_passwords = phone_passwords(settings)

    # --- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> ConsoleServer:
        settings = self._settings()
        sock = bind_socket("console", settings.console.host, settings.console.port)
        try:
            reader = await self._stack.enter_async_context(sql.reading(self._db))
            holder: dict[str, ConsoleContext] = {}

            async def cards(call_id: str, operator: str) -> tuple[int, str] | None:
                return await render_card(holder["ctx"], call_id, operator, None)

            async def counts(operator: str) -> Payload:
                return await _counts(reader, self._settings(), operator, self._clock())

            async def awaiting(operator: str) -> str | None:
                since = self._clock() - AWAITING_WINDOW_S
                return await card_store.awaiting_result(reader.conn, operator, since)

            hub = Hub(self._board, cards, counts, awaiting, self._pbx_connected, self._clock)
            ctx = ConsoleContext(
                db=self._db,
                reader=reader,
                settings=self._settings,
                policy=self._policy,
                board=self._board,
                hub=hub,
                desk=self._desk,
                wake=self._wake,
                passwords=passwords_path(settings),
                clock=self._clock,
                floor=self._floor,
                sip_passwords=lambda: self._sip_passwords,
            )
            holder["ctx"] = ctx
            ctx.wallboard = Wallboard(
                reader,
                self._settings,
                self._policy,
                self._board,
                hub.views,
                self._floor,
                self._pbx_connected,
                self._clock,
            )
            await ctx.wallboard.load_alerts()
            self._feed = WallboardFeed(ctx.wallboard, hub)
            tls: dict[str, Any] = {}
            if settings.console.tls:
                tls = {
                    "ssl_certfile": str(settings.console.tls_cert),
                    "ssl_keyfile": str(settings.console.tls_key),
                }
            config = uvicorn.Config(
                create_console_app(ctx),
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                proxy_headers=False,
                timeout_graceful_shutdown=STOP_TIMEOUT_S,
                **tls,
            )
            self._server = QuietServer(config)
            self.port = sock.getsockname()[1]
            hub.start()
            self._feed.start()
            self.hub, self.ctx = hub, ctx
            self._task = await start_serving(self._server, sock, "console")
        except BaseException:
            sock.close()
            await self._stop()
            await self._stack.aclose()
            raise
        scheme = "https" if settings.console.tls else "http"
        log.info("console_started", url=f"{scheme}://{settings.console.host}:{self.port}")
        if not ctx.passwords.exists():
            log.warning(
                "console_no_passwords",
                path=str(ctx.passwords),
                hint="nobody can sign in until `dialerd operators passwd NAME` sets a password",
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._stop()
        finally:
            await self._stack.aclose()
        log.info("console_stopped")

    async def _stop(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.close()
        hub, self.hub = self.hub, None
        if hub is not None:
            await hub.close()
        await stop_serving(self._server, self._task)
        self._task = None


async def _counts(reader: Store, settings: Settings, operator: str, now: float) -> Payload:
    tz = settings.policy.tz
    midnight = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    day = await card_store.operator_day(reader.conn, operator, midnight.timestamp())
    return message(
        "counts",
        calls=day.calls,
        talk_s=day.talk_s,
        confirmed=day.confirmed,
        revenue=decimal_amount(day.revenue_minor) or "0",
        at=now,
    )
