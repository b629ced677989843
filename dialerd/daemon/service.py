"""The composition root: store lock → store → PBX → engine → the leader's duties (alerts,
CRM outbox, report schedules) → wake socket → HTTP API → console, closed in reverse.

On a PostgreSQL store there is no file lock (several daemons share the store): the daemon
registers and heartbeats instead (``heartbeat.py``), its claims carry its lease, new leads
wake it through LISTEN/NOTIFY instead of the wake socket, and the duties done once for all
daemons run in the one that leads (``leader.py``).

``run_service`` is what ``dialerd run`` and ``dialerd demo`` both execute, so the
demo exercises the production engine, not a toy loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

import structlog

from dialerd.alerts.monitor import Alerter
from dialerd.api.context import LiveState
from dialerd.api.server import ApiServer
from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import LoadedConfig, Settings, require_secrets
from dialerd.config.ami import carrier
from dialerd.config.sip_passwords import phone_passwords
from dialerd.config.store import StoreSettings
from dialerd.crm.delivery import OutboxWorker
from dialerd.daemon.heartbeat import Heartbeat
from dialerd.daemon.leader import Leader
from dialerd.daemon.lifecycle import Lifecycle, Tally
from dialerd.daemon.sdnotify import Notifier
from dialerd.daemon.wake import LeadsListener, WakeListener
from dialerd.dialer.board import OnChange, Operator, OperatorBoard
from dialerd.dialer.calls import Pbx
from dialerd.dialer.engine import Engine, Lines
from dialerd.dialer.events import EngineEvent
from dialerd.dialer.fleet import Fleet, FloorAway
from dialerd.dialer.floor import CampaignHold
from dialerd.dialer.inbound_log import InboundLog
from dialerd.dialer.operator_holds import SharedOperators
from dialerd.dialer.operator_log import OperatorLog
from dialerd.dialer.pauses import PauseError
from dialerd.dialer.risk_ledger import RiskLedger, SharedRisk
from dialerd.dialer.survey_log import SurveyLog
from dialerd.domain import FinishedCall, InUse
from dialerd.pbx.ami import AmiPbx
from dialerd.pbx.events import PbxEvent
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
    fleet: Fleet | None = None  # every PBX's engine (``engine`` is the first)
    pbxs: list[AmiPbx] = field(default_factory=list)  # every PBX (``pbx`` is the first)
    heartbeat: Heartbeat | None = None  # PostgreSQL stores only
    leader: Leader | None = None  # runs outbox, alerter and reports while this daemon leads


@asynccontextmanager
async def assembled(
    loaded: LoadedConfig,
    *,
    listeners: list[Callable[[EngineEvent], None]] | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Assembled]:
    """Store lock → store (migrated) → AMI → engine → leader (alerts, outbox, reports) → wake
    socket → API; closed in reverse.

    The lock comes before anything touches the store: a second daemon on the same store is
    refused (``StoreLocked``) before it migrates, dials or takes the wake socket. On
    PostgreSQL the daemon registers before the engine adopts the calls its id holds.
    """
    settings = loaded.settings
    require_secrets(settings)  # every missing one at once, before connecting to anything
    secrets = [pbx.resolved_secret(listed=settings.pbxs_listed) for pbx in settings.pbxs]
    crm_secret = settings.crm.resolved_secret()
    sip_passwords = phone_passwords(settings)  # the browser phones' (console.phone)
    clock = clock or WALL_CLOCK

    def engine_wake() -> None:
        fleet.wake()

    async with AsyncExitStack() as stack:
        if settings.store.engine == "sqlite":
            stack.enter_context(store_lock(settings.store.path))
        db = await stack.enter_async_context(sql.open_configured(settings.store))
        heartbeat = await _registered(stack, db, settings, clock, lambda: fleet.stop_now())
        lease = Lease(heartbeat.daemon_id, heartbeat.lease_s) if heartbeat else None
        # One AMI session per PBX; the first one's is the one the console and the API use.
        pbxs = [
            await stack.enter_async_context(
                AmiPbx(ami, secret, clock=clock, named=len(settings.pbxs) > 1)
            )
            for ami, secret in zip(settings.pbxs, secrets, strict=True)
        ]
        pbx = pbxs[0]
        # Run by the leader only (``Leader``, entered once the engines exist); made here so
        # that the engines' and the console's hooks reach them in every daemon.
        alerter = Alerter(db, settings.alerts, crm_pushes=settings.crm.url is not None, clock=clock)
        outbox = OutboxWorker(db, settings.crm, crm_secret, on_change=alerter.wake, clock=clock)
        # the supervisors' campaign pauses (issue 13), one for every PBX's engine
        campaigns = CampaignHold(db, clock, engine_wake)
        # Recorders for reports (issue 6); they follow every PBX's current board.
        operator_log = OperatorLog(db, lambda: fleet.operators, clock=clock)
        inbound_log = InboundLog(db)  # each PBX's events named on its own board
        survey_log = SurveyLog(db, on_detractor=lambda _answer: alerter.wake())
        # The console is made before the engine so that the engine's hooks reach it; it
        # listens only once entered, after the engine exists.
        console = (
            ConsoleServer(
                db,
                lambda: engine.settings,
                lambda: engine.policy,
                lambda: fleet.operators,
                Desk(
                    pause=lambda name, reason: fleet.pause_operator(name, reason),
                    resume=lambda name: fleet.resume_operator(name),
                    ready=lambda name: fleet.operator_ready(name),
                    survey=lambda call_id, context: fleet.survey(call_id, context),
                ),
                engine_wake,
                lambda: fleet.connected(),
                clock,
                Floor(
                    tracks=lambda: fleet.tracks(),
                    paces=lambda: fleet.paces,
                    paused=lambda: campaigns.paused,
                    pause=lambda name, user, note: campaigns.pause(name, user, note),
                    resume=lambda name, user: campaigns.resume(name, user),
                    spy=lambda request: fleet.spy(request),
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

        engines = engines_for(
            settings,
            db,
            pbxs,
            listeners=[*(listeners or []), alerter.on_engine_event, *console_hooks],
            on_operator_change=on_operator_change,
            pbx_listeners=lambda name, board_of: [
                inbound_log.listener(name, board_of),
                survey_log.on_pbx_event,
            ],
            clock=clock,
            campaigns=campaigns,
            lease=lease,
            shared_pbxs=(lambda: heartbeat.shared_pbxs) if heartbeat else None,
        )
        fleet = Fleet(engines, pbxs, clock)
        engine = engines[0]  # its settings and policy are every engine's
        await stack.enter_async_context(operator_log)
        await stack.enter_async_context(inbound_log)
        await stack.enter_async_context(survey_log)
        reports = None
        if settings.reports.schedules:
            # On the wall clock (cron times are real times); costs follow reloads.
            reports = ReportScheduler(db, lambda: engine.settings)
        leader = await stack.enter_async_context(
            Leader(
                db,
                [alerter, outbox, *([reports] if reports is not None else [])],
                holder=heartbeat.daemon_id if heartbeat else "",
                silence_s=settings.daemon.lease_s,
            )
        )
        wakes = (fleet.wake, outbox.wake, alerter.wake)
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
                fleet.wake,
                lambda: fleet.connected(),
                result_recorded=lambda name: _ready_quietly(fleet, name),
                live=lambda now: LiveState(
                    fleet.in_flight, fleet.operators.free_count(now), fleet.connected()
                ),
                clock=clock,
            )
            await stack.enter_async_context(api)
        if console is not None:
            await stack.enter_async_context(console)
        yield Assembled(
            engine, db, pbx, outbox, alerter, api, reports, console, fleet, pbxs, heartbeat, leader
        )


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
            pbx=", ".join(  # several PBXs: each by the name its calls are recorded under
                f"{ami.name}={ami.host}:{ami.port}"
                if settings.pbxs_listed
                else f"{ami.host}:{ami.port}"
                for ami in settings.pbxs
            ),
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
                    parts.fleet or parts.engine,
                    parts.pbx,
                    loaded,
                    notifier,
                    tally,
                    reloaders=reloaders,
                )
                if handle_signals:
                    lifecycle.install_signals()
                log.info(
                    "daemon_started",
                    store=_store_name(settings.store),
                    ami=[f"{ami.name}={ami.host}:{ami.port}" for ami in settings.pbxs],
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


def engines_for(
    settings: Settings,
    db: sql.Store,
    pbxs: Sequence[Pbx],
    *,
    listeners: list[Callable[[EngineEvent], None]],
    on_operator_change: OnChange | None,
    pbx_listeners: Callable[[str, Callable[[], OperatorBoard]], list[Callable[[PbxEvent], None]]],
    clock: Clock,
    campaigns: CampaignHold,
    lease: Lease | None = None,
    shared_pbxs: Callable[[], frozenset[str]] | None = None,
) -> list[Engine]:
    """One engine per PBX of ``settings.pbxs`` (in order), sharing the store.

    Every engine counts the calls of all against ``dialing.max_concurrent_calls`` and its
    own against its PBX's ``max_concurrent_calls``; a call's end on one PBX wakes them all
    (a daemon-wide line came free). Each adopts after a restart only the attempts its PBX
    carries (``carrier``). "Nobody signed in" is told when it is true of every PBX
    (``FloorAway``). ``pbx_listeners`` gives the listeners of one engine's PBX events from
    that PBX's name and that engine's board, so an event is put down to the PBX it came
    from and to its operators."""
    engines: list[Engine] = []
    names = tuple(ami.name for ami in settings.pbxs)

    def in_flight() -> int:
        return sum(engine.in_flight for engine in engines)

    def line_freed(event: EngineEvent) -> None:
        if isinstance(event, FinishedCall) and len(engines) > 1:
            for engine in engines:
                engine.wake()

    floor = FloorAway([*listeners, line_freed], engines)
    # one abandon budget per campaign for every PBX, and on PostgreSQL for every daemon
    # (``shared_pbxs``: those of our PBXs another live daemon drives too, from the heartbeat)
    risk = RiskLedger(
        SharedRisk(db, lease.daemon_id, lease.seconds, shared_pbxs=shared_pbxs) if lease else None,
        SharedOperators(db, lease.daemon_id, lease.seconds) if lease else None,
    )
    for index, (ami, pbx) in enumerate(zip(settings.pbxs, pbxs, strict=True)):
        engines.append(
            Engine(
                settings,
                db,
                pbx,
                listeners=[floor.listener(index)],
                on_operator_change=on_operator_change,
                pbx_listeners=pbx_listeners(ami.name, partial(_board_of, engines, index)),
                clock=clock,
                pbx_name=ami.name,
                adopts=partial(_carried_by, ami.name, names),
                lines=Lines(in_flight, ami.max_concurrent_calls),
                campaigns=campaigns,
                publish_operators=len(pbxs) == 1,  # else the fleet publishes every PBX's
                lease=lease,  # one daemon: every engine claims under its lease
                risk=risk,
            )
        )
    return engines


def _board_of(engines: list[Engine], index: int) -> OperatorBoard:
    return engines[index].operators


def _carried_by(name: str, names: tuple[str, ...], recorded: str) -> bool:
    return carrier(names, recorded) == name


def _wake_all(wakes: tuple[Callable[[], None], ...]) -> None:
    for wake in wakes:
        wake()


def _ready_quietly(engine: Engine | Fleet, operator: str) -> None:
    """A result recorded through the API ends the operator's after-call work, as the
    console's does; an operator unknown here (a name the CRM sent) or one Asterisk's queue
    still holds in its own wrap-up is left as is."""
    with contextlib.suppress(PauseError):
        engine.operator_ready(operator)
