"""The composition root: store → PBX → alerts → CRM outbox → engine → wake socket, closed in reverse.

``run_service`` is what ``dialerd run`` and ``dialerd demo`` both execute, so the
demo exercises the production engine, not a toy loop.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from dialerd.alerts.monitor import Alerter
from dialerd.config import ConfigError, LoadedConfig, load_config
from dialerd.crm.delivery import OutboxWorker
from dialerd.engine import Engine, EngineEvent
from dialerd.pbx.ami import AmiPbx
from dialerd.store.db import Database, open_store
from dialerd.wake import WakeListener

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Assembled:
    engine: Engine
    db: Database
    pbx: AmiPbx
    outbox: OutboxWorker | None = None
    alerter: Alerter | None = None


@asynccontextmanager
async def assembled(
    loaded: LoadedConfig,
    *,
    listeners: list[Callable[[EngineEvent], None]] | None = None,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[Assembled]:
    """Store (migrated) → AMI session → engine → wake socket; closed in reverse order."""
    settings = loaded.settings
    secret = settings.ami.resolved_secret()
    crm_secret = settings.crm.resolved_secret()
    clock_kw = {"clock": clock} if clock is not None else {}
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_store(settings.store.path))
        pbx = await stack.enter_async_context(AmiPbx(settings.ami, secret, **clock_kw))
        alerter = await stack.enter_async_context(Alerter(db, settings.alerts, **clock_kw))
        outbox = await stack.enter_async_context(
            OutboxWorker(db, settings.crm, crm_secret, on_change=alerter.wake, **clock_kw)
        )
        engine = Engine(
            settings, db, pbx, listeners=[*(listeners or []), alerter.on_engine_event], **clock_kw
        )
        wakes = (engine.wake, outbox.wake, alerter.wake)
        await stack.enter_async_context(
            WakeListener(settings.store.wake_socket_path, lambda: [wake() for wake in wakes])
        )
        yield Assembled(engine, db, pbx, outbox, alerter)


async def run_service(
    loaded: LoadedConfig,
    *,
    until_idle: bool = False,
    listeners: list[Callable[[EngineEvent], None]] | None = None,
    clock: Callable[[], float] | None = None,
    handle_signals: bool = True,
) -> None:
    settings = loaded.settings
    async with assembled(loaded, listeners=listeners, clock=clock) as parts:
        if handle_signals:
            _install_signals(parts.engine, loaded.path)
        try:
            log.info(
                "daemon_started",
                store=str(settings.store.path),
                ami=f"{settings.ami.host}:{settings.ami.port}",
            )
            await parts.engine.run(until_idle=until_idle)
        finally:
            if handle_signals:
                _remove_signals()
    log.info("daemon_stopped")


def _install_signals(engine: Engine, config_path: Path | None) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, engine.stop)
    loop.add_signal_handler(signal.SIGINT, engine.stop)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(engine, config_path))


def _remove_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(sig)


def _reload(engine: Engine, config_path: Path | None) -> None:
    """A valid file applies from the next pick; an invalid one is logged and ignored."""
    try:
        loaded = load_config(config_path)
    except ConfigError as exc:
        log.error("reload_rejected", problems=exc.problems)
        return
    engine.reload(loaded.settings)
    log.info("config_reloaded", max_concurrent_calls=loaded.settings.dialing.max_concurrent_calls)
