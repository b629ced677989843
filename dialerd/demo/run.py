"""``dialerd demo``: a call centre's working day in about a minute, on the production engine.

A temporary store, the built-in AMI simulator (a real TCP server speaking AMI) and
the real service (`assembled`: store, AMI adapter, engine, wake socket) run on a
simulated clock ``speed`` times faster than the wall clock: the night pause holds
the backlog until 10:00, then it is dialed new leads first. A feeder submits a
stream of synthetic leads through the real intake (some duplicates, some invalid,
some asking for a callback); simulated operators take the answered calls and
record their results. A live view shows it all; the day's report closes it, read
back from the store.
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
from dialerd.demo.view import DemoState, OperatorView, progress_line, render, render_report
from dialerd.dialer.board import OperatorState
from dialerd.dialer.events import CallAnswered, EngineEvent
from dialerd.domain import FinishedCall, Result
from dialerd.intake.leads import Duplicate, LeadInput, LeadRejected, submit, validate_lead
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome, outcome_by_digit
from dialerd.policy.disposition import Disposition, DispositionConflict, DispositionInvalid
from dialerd.policy.pick import Policy
from dialerd.reports.build import build_report
from dialerd.reports.period import days, local_today
from dialerd.store import dispositions, operator_time
from dialerd.store.db import Database
from dialerd.store.operator_time import StateChange

DEMO_SECRET = "demo-secret"
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


def demo_rule(number: str) -> SimOutcome:
    """The test dialplan's outcome, with talk and ring times varied by the number."""
    base = outcome_by_digit(number)
    spread = int(number[-3:]) if number[-3:].isdigit() else 0
    if base.kind == "answer":
        return SimOutcome("answer", ring_s=4 + spread % 17, talk_s=45 + spread % 240)
    return base


@dataclass
class _Operator:
    name: str
    state: str = "free"  # free | talking | wrap-up
    lead_id: int | None = None
    call_id: str | None = None
    free_at: float = 0.0
    calls: int = 0
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


def demo_config(path: Path, port: int, lines: int) -> LoadedConfig:
    return load_config(
        None,
        overrides={
            "store": {"path": str(path)},
            "ami": {"port": port, "secret": DEMO_SECRET, "reconnect_initial_s": 0.2},
            "dialing": {
                "max_concurrent_calls": lines,
                "channel_template": "Local/{number}@customers",
                "context": "operators",
                "exten": "600",
                "originate_timeout_s": 30,
            },
            "campaigns": {
                "default": {"retry_delays": {"busy": 900, "no_answer": 1800, "congestion": 600}}
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
        async with AmiSimulator(secret=DEMO_SECRET, time_scale=speed, rule=demo_rule) as sim:
            loaded = demo_config(path, sim.port, operators)
            state = DemoState(
                operators=[OperatorView(f"op{n + 1}") for n in range(operators)],
                speed=speed,
                policy_window=loaded.settings.policy.window,
            )
            team = _Team(
                [_Operator(view.name) for view in state.operators],
                rng,
                clock,
                loaded.settings.policy,
            )
            async with assembled(
                loaded, listeners=[team.on_event, state.on_event], clock=clock
            ) as parts:
                engine_task = asyncio.create_task(parts.engine.run(drain_timeout_s=5))
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
                    )
                )
                try:
                    await _show(console, state, team, parts, clock, end, live)
                finally:
                    feeder.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await feeder
                    parts.engine.stop()
                    await engine_task
                    await team.tick(parts.db, finish_all=True)
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
    """Simulated operators: take each answered call, talk, wrap up, then record the result.

    Their time is recorded as the daemon records real operators' (``operator_states``, the
    same store code): logged in free while the window is open, busy from a call's answer to
    the end of its wrap-up, logged out once the window closes and they are free. So the
    day's report has staffed hours, occupancy and a staffing line, as a real day would.
    """

    def __init__(
        self, members: list[_Operator], rng: random.Random, clock: Clock, policy: Policy
    ) -> None:
        self.members = members
        self._rng = rng
        self._clock = clock
        self._policy = policy
        self._by_call: dict[str, _Operator] = {}
        self.results: Counter[str] = Counter()
        self._changes: list[StateChange] = []
        self._logged_in: set[str] = set()

    def _mark(
        self, member: _Operator, state: OperatorState | None, at: float | None = None
    ) -> None:
        if state is None:
            self._logged_in.discard(member.name)
        else:
            self._logged_in.add(member.name)
        self._changes.append(
            StateChange(member.name, None if state is None else state.value, at or self._clock())
        )

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, CallAnswered):
            operator = next(
                (m for m in self.members if m.state == "free" and m.name in self._logged_in),
                None,
            )
            if operator is not None:
                operator.state, operator.lead_id = "talking", event.lead_id
                self._by_call[event.call_id] = operator
                self._mark(operator, OperatorState.BUSY)
        elif isinstance(event, FinishedCall):
            operator = self._by_call.pop(event.call_id, None)
            if operator is not None:
                operator.calls += 1
                operator.talk_s += event.talk_s or 0.0
                operator.state = "wrap-up"
                operator.free_at = self._clock() + self._rng.uniform(20, 90)
                operator.call_id = event.call_id

    async def tick(self, db: Database, *, finish_all: bool = False) -> None:
        """Operators whose wrap-up is over record their result and are free again."""
        now = self._clock()
        window_open = self._policy.window.is_open(datetime.fromtimestamp(now, UTC))
        for member in self.members:
            if member.state == "wrap-up" and (finish_all or member.free_at <= now):
                # the moment the wrap-up ended, not this tick's (a tick is minutes of a
                # simulated day): the result's wrap-up time and the busy row end there
                done = min(member.free_at, now)
                await self._record_result(db, member, done)
                member.state, member.lead_id, member.call_id = "free", None, None
                self._mark(member, OperatorState.FREE if window_open else None, done)
            elif member.state == "free":
                if window_open and member.name not in self._logged_in:
                    self._mark(member, OperatorState.FREE)  # the shift starts
                elif not window_open and member.name in self._logged_in:
                    self._mark(member, None)  # the shift is over
        async with db.transaction() as conn:
            await operator_time.record(conn, self._changes, now)
            if finish_all:
                await operator_time.close_open(conn, now)
        self._changes.clear()

    async def _record_result(self, db: Database, member: _Operator, now: float) -> None:
        """The operator's result, through the same disposition code the HTTP API uses."""
        if member.call_id is None:
            return
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
            recorded = await dispositions.record(db, member.call_id, result, self._policy, now)
        except (DispositionInvalid, DispositionConflict):
            return  # e.g. a callback past the attempt cap: the operator picks another result
        self.results[recorded.disposition.result.value] += 1


async def _feed(
    db: Database,
    loaded: LoadedConfig,
    clock: Clock,
    end: float,
    per_hour: float,
    feeder: _Feeder,
    state: DemoState,
    wake: Callable[[], None],
) -> None:
    """Submit synthetic leads through the real intake, arriving by the hour-of-day profile."""
    settings = loaded.settings
    peak = max(_HOURLY)
    while True:
        now = clock()
        if now >= end:
            return
        hour = datetime.fromtimestamp(now, DAY_START.tzinfo).hour
        rate = per_hour * _HOURLY[hour] / (sum(_HOURLY) / 24) / 3600  # leads per simulated second
        gap = feeder.rng.expovariate(rate) if rate > 0 else 3600 / peak
        await asyncio.sleep(clock.real_seconds(min(gap, 3600)))
        if rate <= 0:
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
            await team.tick(db)
            now = clock()
            if hour != int(now // 3600):
                hour = int(now // 3600)
                state.in_flight = parts.engine.in_flight
                _line(progress_line(state, now))
        return
    with Live(console=console, refresh_per_second=8, transient=False) as view:
        while clock() < end:
            await team.tick(db)
            state.sync_operators(team.members)
            state.in_flight = parts.engine.in_flight
            await state.refresh_store(db, clock())
            view.update(render(state, clock()))
            await asyncio.sleep(refresh)
