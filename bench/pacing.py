"""Pacing by mode: one seeded working day per mode and operator count, on the production engine.

The real service (``assembled``: store, AMI adapter, engine with its pacer, board and
wrap-ups) runs against the built-in AMI simulator on a simulated clock ``--speed`` times
faster than the wall clock. The simulator's queue ``sales`` has one member per operator;
answered customers wait there for a member (no free member: they are abandoned). Each call's
customer is drawn from one seeded stream: answers 30 % (ring 4-25 s, talk 2-6 min), busy
10 %, congestion 5 %, otherwise rings to the Originate timeout (30 s); one who answers and
finds no free member waits in the queue as long as their patience (the simulator's, about
10 s) and hangs up. After each answered call the operator has 30 s of wrap-up
(``after_call_work_s``). Leads arrive through the real
intake at ``--leads-per-operator-hour`` per operator, so that operators, not leads, are
the limit.

Per run it prints and writes (bench/results/pacing.json): occupancy (talk + wrap-up over
staffed time), abandon rate over the day and its highest value at an hour's end once 30
calls were answered, conversations and attempts per operator-hour, answer-to-operator
wait (median, p95), speed to lead (arrival → first dial: median, p90, share within 15
min) and the pacing ratio over the day (mean of a sample per simulated minute; by hour).

One seeded day is one draw: the same code gives occupancies two points apart on two seeds.
``--seeds K`` runs every mode and operator count on K seeds (``--seed``, ``--seed`` + 1, ...;
each seed draws both the customers and the leads' arrivals) and prints, per mode and
operator count, the mean ± standard deviation and the range over the seeds of the figures
a change is judged on; the JSON keeps every seed's run and the summary. ``--jobs J`` runs
J days at once in separate processes: only when the machine has cores to spare, since the
simulated clock runs ``--speed`` times the wall clock and a starved process hands calls
over late (that shows as abandons that are not pacing's).

    PYTHONPATH=. python bench/pacing.py [--operators 4 8 16] [--modes agent_first
        customer_first predictive] [--hours 6] [--speed 150] [--seed 7] [--seeds 1]
        [--jobs 1] [--abandon-target 0.015] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dialerd.clock import Clock
from dialerd.config import LoadedConfig, load_config
from dialerd.daemon.logs import configure_logging
from dialerd.daemon.service import assembled
from dialerd.dialer.pacer import waiting_calls
from dialerd.intake.leads import LeadInput, submit, validate_lead
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.store.db import Database
from dialerd.store.due import next_due_at

RESULTS = Path(__file__).parent / "results" / "pacing.json"
SECRET = "bench-secret"
ZONE = ZoneInfo("Europe/Moscow")
OPEN_HOUR = 10
WRAPUP_S = 30.0
AFTER_S = 2.0  # the abandon rule's after_s (the default)
_FIGURES = re.compile(r"[0-9][0-9.]*")
MIN_ANSWERED = 30  # the hourly abandon check starts once this many calls were answered
IDLE_SAMPLE_S = 2.0  # simulated seconds between two looks at the idle operators
# the figures --seeds summarizes: a change to pacing is judged on these
SUMMARIZED = (
    "occupancy",
    "abandon_rate",
    "abandon_rate_max_hourly",
    "abandon_rate_pacing",
    "abandon_rate_pacing_max_hourly",
    "conversations_per_operator_hour",
    "speed_to_lead_median_s",
    "speed_to_lead_p90_s",
    "ratio_mean",
)


def idle_cause(paced: Any, waiting: int) -> str:
    """Why an operator free now was not given a customer, from the pace last decided: the
    rule that stopped pacing (``limited by`` its reason), or ``room to dial`` when pacing
    allowed calls (no lead due, or the engine between two picks); and whether customers of
    ours were in flight (ringing: an answer may be on its way) or none."""
    if paced is None:
        cause = "no pace yet"
    elif paced.calls > 0:
        cause = "room to dial"
    else:
        tail = paced.reason.rsplit(": ", 1)[-1]
        cause = next((name for key, name in _CAUSES if key in paced.reason or key in tail), "other")
    return f"{cause}, {'calls in flight' if waiting else 'none in flight'}"


_CAUSES = (
    ("hard stop", "hard stop"),
    ("expected abandons", "steering"),
    ("max_ratio", "max_ratio"),
    ("every free line", "lines"),
    ("one call per free operator", "one per free operator"),
    ("dial_ratio", "dial_ratio"),
    ("abandon budget spent", "budget spent"),
)


async def watch_idle(parts: Any, clock: Clock, start: float, end: float) -> Counter[str]:
    """Idle operator-seconds by cause (``idle_cause``), sampled every ``IDLE_SAMPLE_S``."""
    idle: Counter[str] = Counter()
    while clock() < end:
        await asyncio.sleep(clock.real_seconds(IDLE_SAMPLE_S))
        now = clock()
        if not start <= now < end:
            continue
        free = len(parts.engine.operators.free("sales", now))
        if free:
            waiting = waiting_calls(parts.engine.calls.tracks.values(), "sales")
            cause = idle_cause(parts.engine.paces.get("default"), waiting)
            if cause.startswith("room to dial"):
                # a lead due and not yet dialed is the engine between two picks; none due
                # is the supply of leads, which --leads-per-operator-hour is there to remove
                due = await next_due_at(parts.db)
                supply = "lead due" if due is not None and due <= now else "no lead due"
                cause = cause.replace("room to dial", f"room to dial ({supply})")
            idle[cause] += free * IDLE_SAMPLE_S
    return idle


def day_start(days_ahead: int = 1) -> datetime:
    """Tomorrow (a simulated day ahead of the wall clock), at opening time."""
    day = datetime.now(ZONE).date() + timedelta(days=days_ahead)
    return datetime(day.year, day.month, day.day, OPEN_HOUR, tzinfo=ZONE)


class Customers:
    """What each dialed customer does: one seeded stream, drawn call by call."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def __call__(self, number: str) -> SimOutcome:
        if len(number) <= 5:  # agent_first rings the operator's phone first: they answer
            return SimOutcome("answer", ring_s=2.0)
        roll = self.rng.random()
        if roll < 0.30:
            return SimOutcome(
                "answer", ring_s=self.rng.uniform(4, 25), talk_s=self.rng.uniform(120, 360)
            )
        if roll < 0.40:
            return SimOutcome("busy", ring_s=self.rng.uniform(1, 4))
        if roll < 0.45:
            return SimOutcome("congestion")
        return SimOutcome("no_answer")


def bench_config(
    path: Path, port: int, mode: str, operators: int, hours: float, target: float | None = None
) -> LoadedConfig:
    names = [f"op{n + 1}" for n in range(operators)]
    # agent_first rings each operator's phone, followed by its device state (no queue: the
    # simulator's agent_first is the dialplan's, operator first, then Dial() to the customer)
    queued = mode != "agent_first"
    group: dict[str, Any] = {"after_call_work_s": WRAPUP_S}
    if queued:
        group |= {"queue": "sales", "context": "operators", "exten": "600"}
    close = f"{OPEN_HOUR + int(hours):02d}:{int(hours % 1 * 60):02d}"
    return load_config(
        None,
        overrides={
            "store": {"path": str(path)},
            "ami": {"port": port, "secret": SECRET, "reconnect_initial_s": 0.2},
            "window": {"timezone": str(ZONE), "open": f"{OPEN_HOUR:02d}:00", "close": close},
            "dialing": {
                "max_concurrent_calls": 6 * operators,
                "channel_template": "Local/{number}@customers",
                "context": "operators",
                "exten": "600",
                "originate_timeout_s": 30,
            },
            "groups": {"sales": group},
            "operators": [
                {"name": name, "group": "sales"}
                | ({"interface": f"Local/{name}@operators"} if queued else {})
                | {"device": f"Local/{9001 + n}@operators"}
                for n, name in enumerate(names)
            ],
            "campaigns": {
                "default": {
                    "mode": mode,
                    "group": "sales",
                    "retry_delays": {"busy": 900, "no_answer": 1800, "congestion": 600},
                    "abandon": {"rule": "per_day"} | ({} if target is None else {"target": target}),
                }
            },
            "api": {"enabled": False},
            "console": {"enabled": False},
            "alerts": {
                "complaint": False,
                "speed_to_lead_warn_min": None,
                "speed_to_lead_missed": False,
                "ami_down_s": None,
                "crm_backlog": None,
            },
        },
    )


async def feed(
    db: Database,
    loaded: LoadedConfig,
    clock: Clock,
    end: float,
    per_hour: float,
    seed: int,
    wake: Any,
) -> int:
    """Leads through the real intake, a Poisson stream of ``per_hour`` until ``end``."""
    rng = random.Random(seed)
    sent = 0
    while True:
        gap = rng.expovariate(per_hour / 3600.0)
        await asyncio.sleep(clock.real_seconds(gap))
        now = clock()
        if now >= end:
            return sent
        phone = f"+7 916 {rng.randint(100, 999)} {rng.randint(0, 9999):04d}"
        raw = LeadInput(phone=phone, order_id=f"B-{sent}", source="bench")
        lead = validate_lead(raw, loaded.settings, now)
        await submit(db, lead, loaded.settings, now)
        sent += 1
        wake()


async def run_day(
    mode: str,
    operators: int,
    hours: float,
    speed: float,
    seed: int,
    per_op_hour: float,
    target: float | None = None,
) -> dict[str, Any]:
    start = day_start().timestamp()
    end = start + hours * 3600.0
    clock = Clock(speed=speed, start=start - 60.0)  # a minute before opening
    samples: list[tuple[float, float]] = []
    limits: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="dialerd-bench-pacing-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        async with AmiSimulator(
            secret=SECRET,
            time_scale=speed,
            rule=Customers(seed),
            originate_timeout_cap=30,
            clock=clock,
            seed=seed,
        ) as sim:
            if mode != "agent_first":  # the queue answered customers wait in
                for n in range(operators):
                    sim.add_member("sales", f"Local/op{n + 1}@operators", f"op{n + 1}")
                sim.route_to_queue("operators", "600", "sales")
            loaded = bench_config(path, sim.port, mode, operators, hours, target)
            async with assembled(loaded, clock=clock) as parts:
                engine = asyncio.create_task(parts.engine.run(drain_timeout_s=10))
                feeder = asyncio.create_task(
                    feed(
                        parts.db,
                        loaded,
                        clock,
                        end,
                        per_op_hour * operators,
                        seed + 1,
                        parts.engine.wake,
                    )
                )
                watcher = asyncio.create_task(watch_idle(parts, clock, start, end))
                try:
                    while clock() < end:
                        await asyncio.sleep(clock.real_seconds(60.0))
                        paced = parts.engine.paces.get("default")
                        if paced is not None and start <= clock() < end:
                            samples.append((clock(), paced.ratio))
                            limits[_FIGURES.sub("#", paced.reason.rsplit(": ", 1)[-1])] += 1
                finally:
                    feeder.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await feeder
                    parts.engine.stop()
                    await engine
                    idle = await watcher
                figures = await measure(parts.db, start, end, operators)
    ratios = [r for _, r in samples]
    by_hour: dict[int, list[float]] = {}
    for at, ratio in samples:
        by_hour.setdefault(int((at - start) // 3600), []).append(ratio)
    figures["ratio_mean"] = round(statistics.fmean(ratios), 3) if ratios else None
    figures["ratio_by_hour"] = [round(statistics.fmean(by_hour[h]), 2) for h in sorted(by_hour)]
    figures["pace_limited_by"] = dict(limits.most_common(4))
    staffed_s = operators * (end - start)
    # share of staffed time each operator sat idle, by why pacing gave them no customer
    figures["idle_by_cause"] = {
        cause: round(seconds / staffed_s, 4) for cause, seconds in idle.most_common()
    }
    return {"mode": mode, "operators": operators, "seed": seed, **figures}


def busy_spells(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[float, float]]]:
    """Each operator's busy spells as the dialer scheduled them: conversation, then wrap-up."""
    spells: dict[str, list[tuple[float, float]]] = {}
    for _, _, operator_at, ended, _, _, operator in rows:
        if operator is not None and operator_at is not None and ended is not None:
            spells.setdefault(operator, []).append((operator_at, ended + WRAPUP_S))
    return spells


def abandon_cause(spells: dict[str, list[tuple[float, float]]], operators: int, due: float) -> str:
    """Whose abandon it was: ``hand-over late`` when an operator was free (by the dialer's
    own schedule: no conversation or wrap-up of theirs covers it) at the moment the rule
    counts the abandon, ``after_s`` past the answer, so the queue had someone to give the
    customer to and the hand-over itself was slow (on the simulator at ``--speed`` 100, a
    few milliseconds of a busy machine's wall clock are the seconds past the rule);
    ``no operator`` when every operator was in a call or wrap-up then: pacing's."""
    busy = sum(any(a <= due < b for a, b in spells.get(name, [])) for name in spells)
    return "hand-over late" if busy < operators else "no operator"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


async def measure(db: Database, start: float, end: float, operators: int) -> dict[str, Any]:
    """The day's figures, read back from the store."""
    async with db.conn.execute(
        "SELECT created_at, answered_at, operator_at, ended_at, outcome, mode, operator"
        " FROM attempts WHERE created_at >= ? AND created_at < ? AND status = 'done'"
        " ORDER BY created_at",
        (start, end),
    ) as cursor:
        rows = [tuple(row) for row in await cursor.fetchall()]
    spells = busy_spells(rows)
    staffed_h = operators * (end - start) / 3600.0
    busy_s = 0.0
    conversations = 0
    waits: list[float] = []
    answered = abandoned = 0
    abandons: list[list[Any]] = []
    hourly: dict[int, tuple[int, int]] = {}
    late_handovers = 0
    hourly_late: dict[int, int] = {}
    for created, answered_at, operator_at, ended, outcome, mode, _ in rows:
        if operator_at is not None and ended is not None and outcome == "answered":
            conversations += 1
            busy_s += max(0.0, min(ended, end) - max(operator_at, start)) + WRAPUP_S
            if answered_at is not None:
                waits.append(max(0.0, operator_at - answered_at))
        if answered_at is not None and mode in ("customer_first", "predictive"):
            answered += 1
            late = operator_at is None or operator_at - answered_at > AFTER_S
            if outcome == "abandoned" or late:
                abandoned += 1
                # when (minute of the day, answered so far) and how late the operator was
                # (None: never came): a hand-over late with operators free is the machine's
                wait = None if operator_at is None else round(operator_at - answered_at, 1)
                cause = abandon_cause(spells, operators, answered_at + AFTER_S)
                late_handovers += cause == "hand-over late"
                abandons.append([round((answered_at - start) / 60.0, 1), answered, wait, cause])
            hour = int((created - start) // 3600)
            hourly[hour] = (answered, abandoned)
            hourly_late[hour] = late_handovers
    worst = worst_pacing = 0.0
    for hour in sorted(hourly):
        n, k = hourly[hour]
        if n >= MIN_ANSWERED:
            worst = max(worst, k / n)
            worst_pacing = max(worst_pacing, (k - hourly_late[hour]) / n)
    async with db.conn.execute(
        "SELECT l.received_at, MIN(a.created_at) FROM leads l JOIN attempts a ON a.lead_id = l.id"
        " WHERE l.received_at >= ? AND l.received_at < ? GROUP BY l.id",
        (start, end),
    ) as cursor:
        firsts = [(row[0], row[1] - row[0]) for row in await cursor.fetchall()]
    speeds = [speed for _, speed in firsts]
    # by the hour the lead arrived: a median that grows hour by hour is a backlog growing
    # all day, and then speed to lead says more about the day's length than about pacing
    arrivals: dict[int, list[float]] = {}
    for received, speed in firsts:
        arrivals.setdefault(int((received - start) // 3600), []).append(speed)
    async with db.conn.execute(
        "SELECT COUNT(*) FROM leads WHERE received_at >= ? AND received_at < ?", (start, end)
    ) as cursor:
        row = await cursor.fetchone()
    leads = int(row[0]) if row else 0
    return {
        "leads": leads,
        "attempts": len(rows),
        "conversations": conversations,
        "occupancy": round(min(busy_s, staffed_h * 3600) / (staffed_h * 3600), 3),
        "abandon_rate": round(abandoned / answered, 4) if answered else 0.0,
        "abandoned": abandoned,
        "abandon_rate_max_hourly": round(worst, 4),
        "abandons": abandons,
        "abandoned_handover_late": late_handovers,
        "abandon_rate_pacing": round((abandoned - late_handovers) / answered, 4)
        if answered
        else 0.0,
        "abandon_rate_pacing_max_hourly": round(worst_pacing, 4),
        "conversations_per_operator_hour": round(conversations / staffed_h, 2),
        "attempts_per_operator_hour": round(len(rows) / staffed_h, 2),
        "answer_to_operator_wait_median_s": _round(_pct(waits, 0.5)),
        "answer_to_operator_wait_p95_s": _round(_pct(waits, 0.95)),
        "speed_to_lead_median_s": _round(_pct(speeds, 0.5)),
        "speed_to_lead_p90_s": _round(_pct(speeds, 0.9)),
        "speed_to_lead_within_15_min": round(sum(s <= 900 for s in speeds) / len(speeds), 3)
        if speeds
        else None,
        "leads_never_dialed": leads - len(speeds),
        "speed_to_lead_median_by_hour_s": [
            _round(_pct(arrivals[h], 0.5)) for h in sorted(arrivals)
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def line(result: dict[str, Any]) -> str:
    return (
        f"{result['mode']:>14} {result['operators']:>2} ops: occupancy {result['occupancy']:.3f}"
        f"  abandon {result['abandon_rate']:.2%} (max {result['abandon_rate_max_hourly']:.2%},"
        f" {result['abandoned']}; {result['abandoned_handover_late']} of them hand-overs late"
        f" with an operator free: without them {result['abandon_rate_pacing']:.2%},"
        f" max {result['abandon_rate_pacing_max_hourly']:.2%})  conv/op-h {result['conversations_per_operator_hour']}"
        f"  att/op-h {result['attempts_per_operator_hour']}"
        f"  wait med/p95 {result['answer_to_operator_wait_median_s']}/"
        f"{result['answer_to_operator_wait_p95_s']} s"
        f"  STL med/p90 {result['speed_to_lead_median_s']}/{result['speed_to_lead_p90_s']} s,"
        f" {result['speed_to_lead_within_15_min']} ≤15 min"
        f" (median by hour {result['speed_to_lead_median_by_hour_s']})"
        f"  ratio {result['ratio_mean']} {result['ratio_by_hour']}"
        f"\n{'':>22}limited by {result['pace_limited_by']}"
        f"\n{'':>22}idle by cause (share of staffed time) {result['idle_by_cause']}"
    )


def one_day(
    mode: str,
    operators: int,
    hours: float,
    speed: float,
    seed: int,
    per: float,
    target: float | None = None,
) -> Any:
    """One seeded day, in a process of its own (``--jobs``)."""
    configure_logging("error", "console")
    return asyncio.run(run_day(mode, operators, hours, speed, seed, per, target))


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per mode and operator count: each summarized figure's mean, standard deviation
    (0 with one seed) and range over the seeds."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["mode"], run["operators"]), []).append(run)
    out = []
    for (mode, operators), group in groups.items():
        row: dict[str, Any] = {"mode": mode, "operators": operators, "seeds": len(group)}
        for key in SUMMARIZED:
            values = [float(run[key]) for run in group if run.get(key) is not None]
            if not values:
                continue
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            row[key] = {
                "mean": round(statistics.fmean(values), 4),
                "sd": round(sd, 4),
                "min": round(min(values), 4),
                "max": round(max(values), 4),
            }
        causes = sorted({cause for run in group for cause in run.get("idle_by_cause", {})})
        row["idle_by_cause"] = {  # mean over the seeds (a seed without it: 0)
            cause: round(
                statistics.fmean(r.get("idle_by_cause", {}).get(cause, 0.0) for r in group), 4
            )
            for cause in causes
        }
        out.append(row)
    return out


def summary_line(row: dict[str, Any]) -> str:
    def fig(key: str, pct: bool = False, digits: int = 3) -> str:
        f = row.get(key)
        if f is None:
            return "-"
        scale, unit = (100.0, "%") if pct else (1.0, "")
        d = 2 if pct else digits
        return (
            f"{f['mean'] * scale:.{d}f}±{f['sd'] * scale:.{d}f}{unit}"
            f" [{f['min'] * scale:.{d}f}..{f['max'] * scale:.{d}f}]"
        )

    return (
        f"{row['mode']:>14} {row['operators']:>2} ops ×{row['seeds']}: occupancy {fig('occupancy')}"
        f"  abandon {fig('abandon_rate', True)}  worst hour {fig('abandon_rate_max_hourly', True)}"
        f"  (without late hand-overs {fig('abandon_rate_pacing', True)},"
        f" worst hour {fig('abandon_rate_pacing_max_hourly', True)})"
        f"  STL med {fig('speed_to_lead_median_s', digits=0)} s"
        f" p90 {fig('speed_to_lead_p90_s', digits=0)} s  ratio {fig('ratio_mean', digits=2)}"
        f"\n{'':>22}idle by cause {row.get('idle_by_cause', {})}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument(
        "--modes", nargs="+", default=["agent_first", "customer_first", "predictive"]
    )
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--speed", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=1, help="days per mode: seeds --seed, +1, …")
    parser.add_argument("--jobs", type=int, default=1, help="days run at once (processes)")
    parser.add_argument(
        "--leads-per-operator-hour",
        type=float,
        default=40.0,
        help="fresh leads per operator per hour (default 40: an operator talks to about 11"
        " customers an hour and 30 %% answer, so the first tries alone need about 37; at 25 and"
        " 30 the operators waited on leads with none due for up to 8 %% of their time, at 40 for"
        " under 2 %%, while the backlog it builds, leads waiting behind others, shows in speed"
        " to lead by hour)",
    )
    parser.add_argument(
        "--abandon-target",
        type=float,
        default=None,
        help="the campaign's abandon.target (default: the config's default)",
    )
    parser.add_argument("--label", default="", help="a name for this run in the results file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the figures")
    args = parser.parse_args()
    configure_logging("error", "console")
    began = time.monotonic()
    days = [
        (
            mode,
            operators,
            args.hours,
            args.speed,
            seed,
            args.leads_per_operator_hour,
            args.abandon_target,
        )
        for operators in args.operators
        for mode in args.modes
        for seed in range(args.seed, args.seed + max(1, args.seeds))
    ]
    results: list[dict[str, Any]] = []
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for result in pool.map(one_day, *zip(*days, strict=True)):
                print(f"seed {result['seed']}: " + line(result), flush=True)
                results.append(result)
    else:
        for day in days:
            result = asyncio.run(run_day(*day))
            print(f"seed {result['seed']}: " + line(result), flush=True)
            results.append(result)
    summarized = summary(results)
    if args.seeds > 1:
        print()
        for row in summarized:
            print(summary_line(row), flush=True)
    figures = {
        "benchmark": "pacing",
        "label": args.label,
        "command": "PYTHONPATH=. python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "hours": args.hours,
        "speed": args.speed,
        "seed": args.seed,
        "seeds": list(range(args.seed, args.seed + max(1, args.seeds))),
        "leads_per_operator_hour": args.leads_per_operator_hour,
        "abandon_target": args.abandon_target,
        "summary": summarized,
        "runs": results,
        "wall_s": round(time.monotonic() - began, 1),
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
