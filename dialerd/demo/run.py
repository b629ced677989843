"""``dialerd demo``: a call centre's working day in about a minute, on the production engine.

A temporary store, the built-in AMI simulator (a real TCP server speaking AMI) and
the real service (`assembled`: store, AMI adapter, engine, wake socket) run on a
simulated clock ``speed`` times faster than the wall clock, shared by the daemon and the
simulator: the night pause holds the backlog until 10:00, then it is dialed new leads
first. A feeder submits a stream of synthetic leads through the real intake (some
duplicates, some invalid, some asking for a callback). The operators are a group in the
simulator's queue, as on a real PBX: the daemon paces its calls by who is free there,
answered customers wait in the queue (and some give up), each operator wraps up after a
call (the dialer's wrap-up, paused in the queue) and then records the call's result. A
live view shows it all; the day's report closes it, read back from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.live import Live

from dialerd.clock import Clock
from dialerd.config import LoadedConfig, load_config
from dialerd.daemon.logs import configure_logging
from dialerd.daemon.service import Assembled, assembled
from dialerd.demo.view import (
    DemoState,
    OperatorView,
    counts_line,
    progress_line,
    render,
    render_report,
)
from dialerd.dialer.events import EngineEvent
from dialerd.domain import FinishedCall, Outcome, Result
from dialerd.intake.leads import Duplicate, LeadInput, LeadRejected, submit, validate_lead
from dialerd.pbx.sim.customers import CustomerMix, seeded_customers
from dialerd.pbx.sim.queue import NOT_IN_USE
from dialerd.pbx.sim.server import AmiSimulator, OutcomeRule, SimOutcome
from dialerd.policy.disposition import Disposition, DispositionConflict, DispositionInvalid
from dialerd.reports.build import build_report
from dialerd.reports.period import days, local_today
from dialerd.store import dispositions
from dialerd.store.sql import Store

DEMO_SECRET = "demo-secret"
# The dialing mode of the demo's day: the one that serves it best (speed to lead met with
# few abandons) with today's pacing; agent_first, customer_first and predictive all run.
DEMO_MODE = "predictive"
UNAVAILABLE = 5  # a queue member's device state while logged out
LINES_PER_OPERATOR = 3  # dialing.max_concurrent_calls = operators × this
WRAPUP_S = 30  # the operators' after-call work (the dialer's wrap-up), simulated s
DAY_START = datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # a Monday morning
# The 4th digit from the end picks what the simulated customer does (see outcome_by_digit):
# 1 answers, 2 busy, 3 never answers, 4 congestion, 9 unallocated number.
_SCENARIO_WEIGHTS = {"1": 55, "2": 12, "3": 23, "4": 5, "9": 5}
# Relative lead arrivals by hour of day: shoppers order in the evening, a few at night.
_HOURLY = [1, 1, 1, 0, 0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 5, 5, 6, 7, 8, 8, 7, 5, 3, 2]
_NAMES = [
    "Anna",
    "Boris",
    "Vera",
    "Gleb",
    "Daria",
    "Egor",
    "Zoya",
    "Ivan",
    "Kira",
    "Lev",
    "Maya",
    "Oleg",
]


def demo_rule(seed: int) -> OutcomeRule:
    """The test dialplan's outcomes (the 4th digit from the end), each answering number a
    person with their own ring and talk times (seeded); an operator's extension (agent_first
    rings it) answers in two seconds."""
    customers = seeded_customers(seed, CustomerMix(ring_s=(4.0, 20.0), talk_median_s=120.0))

    def rule(number: str) -> SimOutcome:
        return SimOutcome("answer", ring_s=2, talk_s=0) if len(number) < 5 else customers(number)

    return rule


@dataclass
class _Operator:
    name: str
    interface: str
    calls: int = 0  # conversations
    talk_s: float = 0.0


@dataclass
class _Feeder:
    rng: random.Random
    sent: list[tuple[str, str]] = field(default_factory=list)  # (phone, order id) for duplicates
    order_no: int = 1000

    def next_lead(self, now: float) -> tuple[LeadInput, str]:
        """A synthetic lead and its kind: new, callback, duplicate or invalid."""
        roll = self.rng.random()
        if roll < 0.06 and self.sent:
            phone, order_id = self.rng.choice(self.sent)
            return LeadInput(phone=phone, order_id=order_id, source="demo"), "duplicate"
        if roll < 0.09:
            return LeadInput(
                phone=self.rng.choice(["+7 916 12", "916-abc-1234", "+7 (999) 000"]), source="demo"
            ), "invalid"
        digit = self.rng.choices(list(_SCENARIO_WEIGHTS), weights=list(_SCENARIO_WEIGHTS.values()))[
            0
        ]
        phone = f"+7 916 {self.rng.randint(100, 999)} {digit}{self.rng.randint(0, 999):03d}"
        self.order_no += 1
        order_id = f"A-{self.order_no}"
        self.sent.append((phone, order_id))
        callback = now + self.rng.uniform(3600, 4 * 3600) if roll > 0.9 else None
        lead = LeadInput(
            phone=phone,
            order_id=order_id,
            name=self.rng.choice(_NAMES),
            amount=str(self.rng.randint(5, 300) * 100),
            callback_at=callback,
            source="demo",
        )
        return lead, "callback" if callback else "new"


def operator_extension(n: int) -> str:
    """The n-th operator's phone and queue interface (``Local/101@operators``, ...)."""
    return f"Local/{100 + n}@operators"


def demo_config(path: Path, port: int, operators: int, mode: str = DEMO_MODE) -> LoadedConfig:
    """The demo's settings, on its own SQLite file: a ``store.url`` of PostgreSQL from the
    environment (``DIALERD_STORE__URL``) is refused, never filled with a demo's leads."""
    return load_config(
        None,
        engines=("sqlite",),
        overrides={
            "store": {"path": str(path)},
            "ami": {"port": port, "secret": DEMO_SECRET, "reconnect_initial_s": 0.2},
            "dialing": {
                "max_concurrent_calls": operators * LINES_PER_OPERATOR,
                "channel_template": "Local/{number}@customers",
                "context": "operators",
                "exten": "600",
                "originate_timeout_s": 30,
            },
            "groups": {
                "sales": {
                    "queue": "sales",
                    "context": "operators",
                    "exten": "600",
                    "after_call_work_s": WRAPUP_S,
                }
            },
            "operators": [
                {
                    "name": f"op{n}",
                    "group": "sales",
                    "interface": operator_extension(n),
                    "device": operator_extension(n),
                }
                for n in range(1, operators + 1)
            ],
            "campaigns": {
                "default": {
                    "mode": mode,
                    "group": "sales",
                    "retry_delays": {"busy": 900, "no_answer": 1800, "congestion": 600},
                }
            },
            "api": {"enabled": False},  # the demo is watched, not called
            "console": {"enabled": False},
            # the owner's alerts have no channel in a demo, and at x1000 their checks only cost time
            "alerts": {
                "complaint": False,
                "speed_to_lead_warn_min": None,
                "speed_to_lead_missed": False,
                "ami_down_s": None,
                "crm_backlog": None,
            },
        },
    )


async def run_demo(
    *,
    duration_s: float,
    speed: float | None,
    operators: int,
    lead_rate: float,
    store_path: Path | None,
    live: bool,
    seed: int = 42,
    mode: str = DEMO_MODE,
) -> int:
    """Run the day; return 0 once the report is printed."""
    console = Console()
    configure_logging(
        "error", "console"
    )  # the live view shows what happens; alerts have no channel here
    speed = speed or 86_400 / duration_s  # by default one simulated day per run
    clock = Clock(speed=speed, start=DAY_START.timestamp())
    end = DAY_START.timestamp() + duration_s * speed
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="dialerd-demo-") as tmp:
        path = store_path or Path(tmp) / "demo.sqlite3"
        async with AmiSimulator(
            secret=DEMO_SECRET,
            time_scale=speed,
            rule=demo_rule(seed),
            clock=clock,
            seed=seed,
        ) as sim:
            loaded = demo_config(path, sim.port, operators, mode)
            team = _Team(sim, loaded, rng, clock)
            state = DemoState(
                operators=[OperatorView(member.name) for member in team.members],
                speed=speed,
                policy_window=loaded.settings.policy.window,
                mode=mode,
            )
            team.tick_sim()  # logged out before the window opens
            async with assembled(
                loaded, listeners=[team.on_event, state.on_event], clock=clock
            ) as parts:
                engine_task = asyncio.create_task(parts.engine.run(drain_timeout_s=5))
                stop_feeding = asyncio.Event()
                feeder = asyncio.create_task(
                    _feed(
                        parts.db,
                        loaded,
                        clock,
                        end,
                        lead_rate,
                        _Feeder(rng),
                        state,
                        parts.engine.wake,
                        stop_feeding,
                    )
                )
                try:
                    await _show(console, state, team, parts, clock, end, live)
                finally:
                    stop_feeding.set()
                    await feeder
                    parts.engine.stop()
                    await engine_task
                    await team.tick(parts.db, finish_all=True)
                    state.in_flight = parts.engine.in_flight
                _line(f"the day's live counts: {counts_line(state)}")
                # the whole run, as `dialerd report` would show it for these days
                settings = loaded.settings
                last_day = local_today(clock(), settings.window.timezone)
                period = days(DAY_START.date(), last_day, settings.window.timezone)
                report = await build_report(parts.db, settings, period, None, now=clock())
        console.print(
            render_report(
                report.totals, state, loaded.settings.campaigns["default"].speed_to_lead_min
            )
        )
        if store_path is not None:
            console.print(f"store kept at {store_path}")
    return 0


class _Team:
    """Simulated operators: members of the simulator's queue ``sales``, logged in while the
    calling window is open (unavailable, i.e. logged out, outside it, once off a call).

    The daemon follows them as it follows real operators (QueueStatus, member events) and
    records their time itself. Each conversation (a finished answered call the daemon says
    they took) is followed by the dialer's wrap-up (``after_call_work_s``: the member is
    paused meanwhile), at whose end the operator records the call's result through the same
    disposition code the HTTP API uses.
    """

    def __init__(
        self, sim: AmiSimulator, loaded: LoadedConfig, rng: random.Random, clock: Clock
    ) -> None:
        self._sim = sim
        self._rng = rng
        self._clock = clock
        self._policy = loaded.settings.policy
        self.members = [_Operator(op.name, op.member_interface) for op in loaded.settings.operators]
        for member in self.members:
            sim.add_member("sales", member.interface, member.name)
        sim.route_to_queue("operators", "600", "sales", timeout_s=60)  # as the shipped dialplan
        self._by_name = {member.name: member for member in self.members}
        self._results_due: list[tuple[float, str, _Operator]] = []  # (at, call id, operator)
        self.results: Counter[str] = Counter()

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, FinishedCall) and event.outcome is Outcome.ANSWERED:
            operator = self._by_name.get(event.operator or "")
            if operator is not None:
                operator.calls += 1
                operator.talk_s += event.talk_s or 0.0
                ended = event.ended_at or self._clock()
                self._results_due.append((ended + WRAPUP_S, event.call_id, operator))

    def tick_sim(self, ahead_s: float = 0.0) -> None:
        """Log operators in for the window's opening (up to ``ahead_s`` early: the next tick
        may be later) and out once it has closed, between calls."""
        now = self._clock()
        window = self._policy.window
        opening = window.is_open(datetime.fromtimestamp(now + ahead_s, UTC))
        window_open = window.is_open(datetime.fromtimestamp(now, UTC)) or opening
        status = NOT_IN_USE if window_open else UNAVAILABLE
        for member in self._sim.members:
            if not member.in_call and member.status in (NOT_IN_USE, UNAVAILABLE):
                self._sim.set_member(member.interface, status=status)

    async def tick(self, db: Store, *, finish_all: bool = False, ahead_s: float = 0) -> None:
        """Operators log in or out; those whose wrap-up is over record their call's result."""
        self.tick_sim(ahead_s)
        now = self._clock()
        due = [r for r in self._results_due if finish_all or r[0] <= now]
        self._results_due = [r for r in self._results_due if r not in due]
        for at, call_id, operator in due:
            await self._record_result(db, operator, call_id, min(at, now))

    async def _record_result(self, db: Store, member: _Operator, call_id: str, now: float) -> None:
        """The operator's result, through the same disposition code the HTTP API uses."""
        roll = self._rng.random()
        if roll < 0.45:
            result = Disposition(Result.CONFIRMED, amount_minor=self._rng.randint(5, 300) * 10_000)
        elif roll < 0.60:
            result = Disposition(Result.CALLBACK, callback_at=now + self._rng.uniform(2, 26) * 3600)
        elif roll < 0.82:
            result = Disposition(Result.REFUSED)
        elif roll < 0.88:
            result = Disposition(Result.FAKE)
        elif roll < 0.90:
            result = Disposition(Result.COMPLAINT)
        else:
            result = Disposition(Result.NO_DECISION)
        result = replace(
            result, operator=member.name, flags=("upsell",) if self._rng.random() < 0.1 else ()
        )
        try:
            recorded = await dispositions.record(db, call_id, result, self._policy, now)
        except (DispositionInvalid, DispositionConflict):
            return  # e.g. a callback past the attempt cap: the operator picks another result
        self.results[recorded.disposition.result.value] += 1


async def _feed(
    db: Store,
    loaded: LoadedConfig,
    clock: Clock,
    end: float,
    per_hour: float,
    feeder: _Feeder,
    state: DemoState,
    wake: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """Submit synthetic leads through the real intake, arriving by the hour-of-day profile,
    until ``end`` or ``stop``: never stopped halfway through a lead, so every lead stored
    is counted live (the day's report and the live counts agree)."""
    settings = loaded.settings
    peak = max(_HOURLY)
    while True:
        now = clock()
        if now >= end or stop.is_set():
            return
        hour = datetime.fromtimestamp(now, DAY_START.tzinfo).hour
        rate = per_hour * _HOURLY[hour] / (sum(_HOURLY) / 24) / 3600  # leads per simulated second
        gap = feeder.rng.expovariate(rate) if rate > 0 else 3600 / peak
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), clock.real_seconds(min(gap, 3600)))
        if rate <= 0 or stop.is_set():
            continue
        raw, kind = feeder.next_lead(clock())
        now = clock()
        try:
            lead = validate_lead(raw, settings, now)
        except LeadRejected:
            state.count("invalid")
            continue
        result = await submit(db, lead, settings, now)
        state.count("duplicate" if isinstance(result, Duplicate) else kind)
        wake()


def _line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()  # piped output is block-buffered: show progress as it happens


async def _show(
    console: Console,
    state: DemoState,
    team: _Team,
    parts: Assembled,
    clock: Clock,
    end: float,
    live: bool,
) -> None:
    db = parts.db
    refresh = 0.1
    if not live:  # a pipe or a log: a line per simulated hour, flushed, so progress shows
        _line("dialerd demo: a simulated day on the AMI simulator; a line per hour")
        hour = None
        while clock() < end:
            await asyncio.sleep(refresh)
            await team.tick(db, ahead_s=2 * refresh * clock.speed)
            now = clock()
            if hour != int(now // 3600):
                hour = int(now // 3600)
                state.in_flight = parts.engine.in_flight
                _line(progress_line(state, now))
        return
    with Live(console=console, refresh_per_second=8, transient=False) as view:
        while clock() < end:
            await team.tick(db, ahead_s=2 * refresh * clock.speed)
            board = parts.engine.operators.snapshot(clock(), connected={"default": True})[
                "operators"
            ]
            state.sync_operators(team.members, board)
            state.in_flight = parts.engine.in_flight
            await state.refresh_store(db, clock())
            view.update(render(state, clock()))
            await asyncio.sleep(refresh)
