"""The composition root: store lock → store → PBX → alerts → CRM outbox → engine → report
schedules → wake socket → HTTP API → console, closed in reverse.

On a PostgreSQL store there is no file lock (several daemons share the store): the daemon
registers and heartbeats instead (``heartbeat.py``), its claims carry its lease, and new
leads wake it through LISTEN/NOTIFY instead of the wake socket.

``run_service`` is what ``dialerd run`` and ``dialerd demo`` both execute, so the
demo exercises the production engine, not a toy loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import structlog

from dialerd.alerts.monitor import Alerter
from dialerd.api.context import LiveState
from dialerd.api.server import ApiServer
from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import LoadedConfig, Settings, require_secrets
from dialerd.config.sip_passwords import phone_passwords
from dialerd.config.store import StoreSettings
from dialerd.crm.delivery import OutboxWorker
from dialerd.daemon.heartbeat import Heartbeat
from dialerd.daemon.lifecycle import Lifecycle, Tally
from dialerd.daemon.sdnotify import Notifier
from dialerd.daemon.wake import LeadsListener, WakeListener
from dialerd.dialer.board import Operator
from dialerd.dialer.engine import Engine
from dialerd.dialer.events import EngineEvent
from dialerd.dialer.inbound_log import InboundLog
from dialerd.dialer.operator_log import OperatorLog
from dialerd.dialer.pauses import PauseError
from dialerd.dialer.survey_log import SurveyLog
from dialerd.domain import InUse
from dialerd.pbx.ami import AmiPbx
from dialerd.reports.schedule import ReportScheduler
from dialerd.store import sql
from dialerd.store.attempts import Lease
from dialerd.store.lock import store_lock
from dialerd.store.pg import PgDatabase
from dialerd.web.context import Desk, Floor
from dialerd.web.server import ConsoleServer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Assembled:
    engine: Engine
    db: sql.Store
    pbx: AmiPbx
    outbox: OutboxWorker | None = None
    alerter: Alerter | None = None
    api: ApiServer | None = None  # None when api.enabled is false
    reports: ReportScheduler | None = None  # None when reports.schedules is empty
    console: ConsoleServer | None = None  # None when console.enabled is false
    heartbeat: Heartbeat | None = None  # PostgreSQL stores only


@asynccontextmanager
async def assembled(
    loaded: LoadedConfig,
    *,
    listeners: list[Callable[[EngineEvent], None]] | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Assembled]:
    """Store lock → store (migrated) → AMI → alerts → outbox → engine → reports → wake socket
    → API; closed in reverse.

    The lock comes before anything touches the store: a second daemon on the same store is
    refused (``StoreLocked``) before it migrates, dials or takes the wake socket. On
    PostgreSQL the daemon registers before the engine adopts the calls its id holds.
    """
    settings = loaded.settings
    require_secrets(settings)  # every missing one at once, before connecting to anything
    secret = settings.ami.resolved_secret()
    crm_secret = settings.crm.resolved_secret()
    sip_passwords = phone_passwords(settings)  # the browser phones' (console.phone)
    clock = clock or WALL_CLOCK

    def engine_wake() -> None:
        engine.wake()

    async with AsyncExitStack() as stack:
        if settings.store.engine == "sqlite":
            stack.enter_context(store_lock(settings.store.path))
        db = await stack.enter_async_context(sql.open_configured(settings.store))
        heartbeat = await _registered(stack, db, settings, clock, lambda: engine.stop_now())
        lease = Lease(heartbeat.daemon_id, heartbeat.lease_s) if heartbeat else None
        pbx = await stack.enter_async_context(AmiPbx(settings.ami, secret, clock=clock))
        alerter = await stack.enter_async_context(
            Alerter(db, settings.alerts, crm_pushes=settings.crm.url is not None, clock=clock)
        )
        outbox = await stack.enter_async_context(
            OutboxWorker(db, settings.crm, crm_secret, on_change=alerter.wake, clock=clock)
        )
        # Recorders for reports (issue 6); they follow the engine's current board.
        operator_log = OperatorLog(db, lambda: engine.operators, clock=clock)
        inbound_log = InboundLog(db, lambda: engine.operators)
        survey_log = SurveyLog(db, on_detractor=lambda _answer: alerter.wake())
        # The console is made before the engine so that the engine's hooks reach it; it
        # listens only once entered, after the engine exists.
        console = (
            ConsoleServer(
                db,
                lambda: engine.settings,
                lambda: engine.policy,
                lambda: engine.operators,
                Desk(
                    pause=lambda name, reason: engine.pause_operator(name, reason),
                    resume=lambda name: engine.resume_operator(name),
                    ready=lambda name: engine.operator_ready(name),
                    survey=lambda call_id, context: pbx.redirect(call_id, context, "s"),
                ),
                engine_wake,
                pbx.connected.is_set,
                clock,
                Floor(
                    tracks=lambda: engine.calls.tracks.values(),
                    paces=lambda: engine.paces,
                    paused=lambda: engine.campaigns.paused,
                    pause=lambda name, user, note: engine.campaigns.pause(name, user, note),
                    resume=lambda name, user: engine.campaigns.resume(name, user),
                    spy=pbx.spy,
                ),
                sip_passwords=sip_passwords,
            )
            if settings.console.enabled
            else None
        )
        console_hooks = [console.on_engine_event] if console is not None else []
        if console is not None:
            alerter.add_listener(console.on_alert)

        def on_operator_change(operator: Operator, at: float | None) -> None:
            operator_log.observe(operator, at)
            if console is not None:
                console.on_operator(operator, at)

        engine = Engine(
            settings,
            db,
            pbx,
            listeners=[*(listeners or []), alerter.on_engine_event, *console_hooks],
            on_operator_change=on_operator_change,
            pbx_listeners=[inbound_log.on_pbx_event, survey_log.on_pbx_event],
            clock=clock,
            lease=lease,
        )
        await stack.enter_async_context(operator_log)
        await stack.enter_async_context(inbound_log)
        await stack.enter_async_context(survey_log)
        reports = None
        if settings.reports.schedules:
            # On the wall clock (cron times are real times); costs follow reloads.
            reports = await stack.enter_async_context(ReportScheduler(db, lambda: engine.settings))
        wakes = (engine.wake, outbox.wake, alerter.wake)
        await stack.enter_async_context(
            LeadsListener(db, lambda: _wake_all(wakes))
            if isinstance(db, PgDatabase)
            else WakeListener(settings.store.wake_socket_path, lambda: _wake_all(wakes))
        )
        api = None
        if settings.api.enabled:
            # Only the engine: the outbox wakes itself on enqueue, and waking the alerter on
            # every intake commit would cost it two write transactions each time; a new
            # lead's speed-to-lead warning is minutes away, its 30 s recheck finds it.
            api = ApiServer(
                db,
                lambda: engine.settings,
                lambda: engine.policy,
                engine.wake,
                pbx.connected.is_set,
                result_recorded=lambda name: _ready_quietly(engine, name),
                live=lambda now: LiveState(
                    engine.in_flight, engine.operators.free_count(now), pbx.connected.is_set()
                ),
                clock=clock,
            )
            await stack.enter_async_context(api)
        if console is not None:
            await stack.enter_async_context(console)
        yield Assembled(engine, db, pbx, outbox, alerter, api, reports, console, heartbeat)


async def _registered(
    stack: AsyncExitStack,
    db: sql.Store,
    settings: Settings,
    clock: Clock,
    stop_now: Callable[[], None],
) -> Heartbeat | None:
    """On a PostgreSQL store: this daemon registered, heartbeating until the stack closes
    (dialing stops at once if its leases can no longer be vouched for). None on SQLite."""
    if not isinstance(db, PgDatabase):
        return None
    return await stack.enter_async_context(
        Heartbeat(
            db,
            settings.daemon.daemon_id,
            settings.daemon.lease_s,
            pbx=f"{settings.ami.host}:{settings.ami.port}",
            clock=clock,
            lost=lambda _failure: stop_now(),
        )
    )


async def run_service(
    loaded: LoadedConfig,
    *,
    until_idle: bool = False,
    listeners: list[Callable[[EngineEvent], None]] | None = None,
    clock: Clock | None = None,
    handle_signals: bool = True,
) -> None:
    """``handle_signals``: the real daemon, which owns SIGTERM/SIGINT/SIGHUP and sd_notify."""
    settings = loaded.settings
    tally = Tally()
    lifecycle: Lifecycle | None = None
    with Notifier.from_env() if handle_signals else Notifier(None) as notifier:
        try:
            async with assembled(
                loaded, listeners=[*(listeners or []), tally], clock=clock
            ) as parts:
                reloaders = [parts.console.reload_secrets] if parts.console is not None else []
                lifecycle = Lifecycle(
                    parts.engine, parts.pbx, loaded, notifier, tally, reloaders=reloaders
                )
                if handle_signals:
                    lifecycle.install_signals()
                log.info(
                    "daemon_started",
                    store=_store_name(settings.store),
                    ami=f"{settings.ami.host}:{settings.ami.port}",
                    **({"daemon_id": parts.heartbeat.daemon_id} if parts.heartbeat else {}),
                )
                summary = await lifecycle.run(until_idle=until_idle)
                failure = parts.heartbeat.failure if parts.heartbeat else None
        except InUse:
            raise  # not a crash: another process holds what we need; the caller says which
        except Exception:
            log.exception("daemon_crashed")
            raise
        finally:
            # Only now: a signal while AMI and the store close must not kill the process.
            if handle_signals and lifecycle is not None:
                lifecycle.remove_signals()
    # The last line, after AMI and the store were closed.
    log.info("daemon_stopped", **summary.fields())
    if failure is not None:
        raise failure  # not a clean stop: systemd's Restart=on-failure starts it again


def _store_name(store: StoreSettings) -> str:
    """The store as the log names it: the file, or the server without any password."""
    return str(store.postgres) if store.engine == "postgresql" else str(store.path)


def _wake_all(wakes: tuple[Callable[[], None], ...]) -> None:
    for wake in wakes:
        wake()


def _ready_quietly(engine: Engine, operator: str) -> None:
    """A result recorded through the API ends the operator's after-call work, as the
    console's does; an operator unknown here (a name the CRM sent) or one Asterisk's queue
    still holds in its own wrap-up is left as is."""
    with contextlib.suppress(PauseError):
        engine.operator_ready(operator)
