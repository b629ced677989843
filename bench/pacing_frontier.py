"""Where the frontier lies: the occupancy dial-ahead pacing can buy per abandon, on a model day.

Not the production service (that is ``bench/pacing.py``): a small event simulation of N
operators and the same call profile, fast enough to sweep a family of policies. Each call
started is drawn as in ``bench/pacing.py``: answered 30 % (after 4-25 s of ring; talk 2-6
min), busy 10 % (after 1-4 s), congestion 5 % (at once), otherwise 30 s of ring and no
answer. An answered customer takes a free operator, or waits in arrival order with a
log-normal patience (median 10 s, as the simulator's queue); an operator who finishes
talking has 30 s of wrap-up, then takes the next one waiting. A customer with no operator
within 2 s of answering is abandoned (the abandon rule's ``after_s``). Leads never run out
(operators are the limit), and at most 6 calls per operator are in flight (the bench's
line limit). Pacing decides again after every event and every second.

Policies (``--policies``):

- ``customer_first``: customers in flight never outnumber free operators (no abandon
  risk taken; the baseline).
- ``predictive``: dialerd's method as shipped (``dialerd.policy.pacing.pace``: dial ahead,
  steering to ``abandon.target`` 2.5 %, the hard stop at the 3 % cap, a ``per_day``
  window starting empty), fed the call profile's true distributions as if learned; with
  ``--targets`` also with other steering targets (``abandon.target``), all else as shipped.
- ``threshold``: dialerd's dial-ahead arithmetic with the abandon controls replaced by one
  fixed rule: calls are added while the expected share of answered customers who find no
  operator in time stays at or under θ (``--thetas``), with no hard stop and no steering.
  It knows what dialerd can know: free operators, wrap-up ends exactly, calls in progress by
  the talk-time distribution given how long they have lasted, ringing calls by how long
  they have rung. Swept over θ it traces occupancy against the abandon rate it pays.
- ``lookahead``: the peers' kind of rule (a dial level over operators about to be free):
  customers ringing or waiting never outnumber ``k`` × the operators free now or at the end
  of a wrap-up within ``L`` s, swept over ``k`` (``--levels``) and ``L`` (``--lookaheads``).

An operator in a call is never free before a customer dialed now answers here (30 s of
wrap-up is longer than the longest ring, 25 s), so knowing talk times better would not
help: dialing ahead can only aim at the last seconds of wrap-ups, whose ends are known.

Per operator count and policy it prints occupancy (talk and wrap-up over staffed time) and
the abandon rate over the day (mean over ``--seeds`` days) and the highest rate at an
hour's end once 30 calls were answered; then the frontier: the highest occupancy of each
policy family whose day stays at or under ``--cap``, and at or under it at every hour's end.
Writes every run to bench/results/pacing_frontier.json.

    PYTHONPATH=. python bench/pacing_frontier.py [--operators 4 8 16] [--hours 8]
        [--seeds 3] [--targets 0 0.015] [--thetas 0.002 0.005 0.01 0.02 0.03]
        [--levels 1 1.5 2 3] [--lookaheads 5 10 20] [--jobs 1]

The figures in docs/metrics.md: ``--hours 8 --seeds 4 --targets 0 0.015`` (about 10
minutes of one core).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import platform
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialerd.policy.abandon import AbandonStats
from dialerd.policy.modes import DialMode
from dialerd.policy.pacing import BusyOperator, CallProfile, GroupLoad, PacingRules, pace

RESULTS = Path(__file__).parent / "results" / "pacing_frontier.json"
ANSWER, BUSY, CONGESTION = 0.30, 0.10, 0.05
RING_S, BUSY_RING_S, NO_ANSWER_S = (4.0, 25.0), (1.0, 4.0), 30.0
TALK_S, WRAPUP_S = (120.0, 360.0), 30.0
PATIENCE_MEDIAN_S, PATIENCE_SIGMA = 10.0, 0.8
AFTER_S = 2.0
LINES_PER_OPERATOR = 6
MIN_ANSWERED = 30
TICK_S = 1.0


@dataclass
class Operator:
    state: str = "free"  # free | talk | wrap
    talk_start: float = 0.0
    talk_end: float = 0.0
    wrap_end: float = 0.0


@dataclass
class Customer:
    dialed_at: float
    answers: bool
    ring_s: float
    talk_s: float
    patience_s: float
    answered_at: float | None = None
    abandoned: bool = False
    gone: bool = False


@dataclass
class Day:
    operators: int
    hours: float
    seed: int
    rng: random.Random = field(init=False)
    ops: list[Operator] = field(init=False)
    ringing: list[Customer] = field(default_factory=list)
    queue: deque[Customer] = field(default_factory=deque)
    events: list[tuple[float, int, str, Any]] = field(default_factory=list)
    answered: int = 0
    abandoned: int = 0
    busy_s: float = 0.0
    attempts: int = 0
    hourly: list[tuple[int, int]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.ops = [Operator() for _ in range(self.operators)]

    @property
    def end(self) -> float:
        return self.hours * 3600.0

    def at(self, when: float, kind: str, what: Any) -> None:
        heapq.heappush(self.events, (when, next(self._order), kind, what))

    def dial(self, now: float) -> None:
        self.attempts += 1
        roll = self.rng.random()
        answers = roll < ANSWER
        if answers:
            ring = self.rng.uniform(*RING_S)
        elif roll < ANSWER + BUSY:
            ring = self.rng.uniform(*BUSY_RING_S)
        elif roll < ANSWER + BUSY + CONGESTION:
            ring = 0.0
        else:
            ring = NO_ANSWER_S
        talk = self.rng.uniform(*TALK_S)
        patience = self.rng.lognormvariate(math.log(PATIENCE_MEDIAN_S), PATIENCE_SIGMA)
        customer = Customer(now, answers, ring, talk, patience)
        self.ringing.append(customer)
        self.at(now + ring, "ring_end", customer)

    def connect(self, op: Operator, customer: Customer, now: float) -> None:
        op.state, op.talk_start, op.talk_end = "talk", now, now + customer.talk_s
        self.at(op.talk_end, "talk_end", op)

    def handle(self, now: float, kind: str, what: Any) -> None:
        if kind == "ring_end":
            self.ringing.remove(what)
            if not what.answers:
                return
            what.answered_at = now
            self.answered += 1
            free = next((op for op in self.ops if op.state == "free"), None)
            if free is not None:
                self.connect(free, what, now)
                return
            self.queue.append(what)
            self.at(now + AFTER_S, "late", what)
            self.at(now + what.patience_s, "hang_up", what)
        elif kind == "late" and not what.gone and what in self.queue:
            what.abandoned, self.abandoned = True, self.abandoned + 1
        elif kind == "hang_up" and what in self.queue:
            self.queue.remove(what)
            what.gone = True
            if not what.abandoned:
                what.abandoned, self.abandoned = True, self.abandoned + 1
        elif kind == "talk_end":
            what.state, what.wrap_end = "wrap", now + WRAPUP_S
            self.at(what.wrap_end, "wrap_end", what)
        elif kind == "wrap_end":
            what.state = "free"
            self.busy_s += min(now, self.end) - min(what.talk_start, self.end)
            if self.queue:
                self.connect(what, self.queue.popleft(), now)

    def load(self, now: float) -> GroupLoad:
        busy = []
        for op in self.ops:
            if op.state == "talk":
                busy.append(BusyOperator(now - op.talk_start, WRAPUP_S))
            elif op.state == "wrap":
                busy.append(BusyOperator(None, op.wrap_end - now))
        free = sum(op.state == "free" for op in self.ops)
        return GroupLoad(
            free,
            len(self.ringing) + len(self.queue),
            queued=len(self.queue),
            ringing_s=tuple(now - c.dialed_at for c in self.ringing),
            busy=tuple(busy),
        )

    def lines_free(self) -> int:
        talking = sum(op.state == "talk" for op in self.ops)
        used = len(self.ringing) + len(self.queue) + talking
        return max(0, LINES_PER_OPERATOR * self.operators - used)

    def run(self, decide: Callable[[Day, float], int]) -> dict[str, Any]:
        for tick in range(int(self.end / TICK_S)):
            self.at(tick * TICK_S, "tick", None)
        hour = 1
        while self.events:
            now, _, kind, what = heapq.heappop(self.events)
            if now >= self.end and kind == "tick":
                continue
            while now >= hour * 3600.0 and hour <= self.hours:
                self.hourly.append((self.answered, self.abandoned))
                hour += 1
            self.handle(now, kind, what)
            if now < self.end:
                for _ in range(decide(self, now)):
                    self.dial(now)
        for op in self.ops:  # calls still in talk or wrap-up at the end of the day
            if op.state != "free":
                self.busy_s += self.end - min(op.talk_start, self.end)
        worst = max((k / n for n, k in self.hourly if n >= MIN_ANSWERED), default=0.0)
        return {
            "occupancy": self.busy_s / (self.operators * self.end),
            "abandon_rate": self.abandoned / self.answered if self.answered else 0.0,
            "abandon_rate_max_hourly": worst,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "attempts": self.attempts,
        }


def true_profile(seed: int) -> CallProfile:
    """The profile's own distributions, as if learned from 300 answered calls."""
    rng = random.Random(seed + 10_000)
    return CallProfile.of(
        1000,
        int(1000 * ANSWER),
        [rng.uniform(*RING_S) for _ in range(300)],
        [rng.uniform(*TALK_S) for _ in range(300)],
        "model",
    )


def decider(policy: str, theta: Any, profile: CallProfile) -> Callable[[Day, float], int]:
    if policy == "customer_first":
        rules = PacingRules(mode=DialMode.CUSTOMER_FIRST, gated=True)

        def cf(day: Day, now: float) -> int:
            free = sum(op.state == "free" for op in day.ops)
            load = GroupLoad(free, len(day.ringing) + len(day.queue))
            return pace(rules, load, day.lines_free(), AbandonStats(0, 0)).calls

        return cf
    if policy == "predictive":
        shipped = PacingRules(mode=DialMode.PREDICTIVE, gated=True)
        if theta:  # another steering target (--targets), all else as shipped
            shipped = PacingRules(mode=DialMode.PREDICTIVE, gated=True, abandon_target=theta)

        def predictive(day: Day, now: float) -> int:
            stats = AbandonStats(day.answered, day.abandoned)
            return pace(shipped, day.load(now), day.lines_free(), stats, profile).calls

        return predictive
    if policy == "lookahead":
        assert isinstance(theta, tuple)
        level, ahead = float(theta[0]), float(theta[1])

        def lookahead(day: Day, now: float) -> int:
            soon = sum(
                op.state == "free" or (op.state == "wrap" and op.wrap_end - now <= ahead)
                for op in day.ops
            )
            waiting = len(day.ringing) + len(day.queue)
            room = math.floor(level * soon + 1e-9) - waiting
            return max(0, min(day.lines_free(), room))

        return lookahead
    assert isinstance(theta, float)
    # threshold: the soft rule alone at a fixed θ (cap = target = θ and a window so
    # large that the hard stop never binds and steering stays at θ)
    fixed = PacingRules(
        mode=DialMode.PREDICTIVE, gated=True, abandon_cap=theta, abandon_target=theta, max_ratio=10
    )
    endless = AbandonStats(10**9, 0)

    def threshold(day: Day, now: float) -> int:
        return pace(fixed, day.load(now), day.lines_free(), endless, profile).calls

    return threshold


def one_day(policy: str, theta: Any, operators: int, hours: float, seed: int) -> dict[str, Any]:
    day = Day(operators, hours, seed)
    figures = day.run(decider(policy, theta, true_profile(seed)))
    return {"policy": policy, "theta": theta, "operators": operators, "seed": seed, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--operators", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument(
        "--policies", nargs="+", default=["customer_first", "predictive", "threshold", "lookahead"]
    )
    parser.add_argument("--thetas", type=float, nargs="+", default=[0.002, 0.005, 0.01, 0.02, 0.03])
    parser.add_argument(
        "--targets",
        type=float,
        nargs="+",
        default=[0.0],
        help="predictive: steering targets to try (0: as shipped, 2.5 %% for a 3 %% cap)",
    )
    parser.add_argument("--levels", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0])
    parser.add_argument("--lookaheads", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cap", type=float, default=0.03, help="the abandon cap judged against")
    parser.add_argument("--jobs", type=int, default=1, help="days run at once (processes)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.monotonic()
    variants: list[tuple[str, float | tuple[float, float]]] = []
    for policy in args.policies:
        if policy == "threshold":
            variants += [(policy, theta) for theta in args.thetas]
        elif policy == "lookahead":
            variants += [(policy, (k, ahead)) for k in args.levels for ahead in args.lookaheads]
        elif policy == "predictive":
            variants += [(policy, target) for target in args.targets]
        else:
            variants.append((policy, 0.0))
    days = [
        (policy, theta, operators, args.hours, seed)
        for operators in args.operators
        for policy, theta in variants
        for seed in range(args.seed, args.seed + args.seeds)
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(one_day, *zip(*days, strict=True)))
    rows = []
    for (operators, policy, theta), same in itertools.groupby(
        runs, key=lambda r: (r["operators"], r["policy"], r["theta"])
    ):
        group = list(same)
        row = {"operators": operators, "policy": policy, "theta": theta, "seeds": len(group)}
        for key in ("occupancy", "abandon_rate"):
            values = [r[key] for r in group]
            row[key] = round(statistics.fmean(values), 4)
            row[key + "_sd"] = round(statistics.stdev(values), 4) if len(values) > 1 else 0.0
        row["abandon_rate_max_hourly"] = round(max(r["abandon_rate_max_hourly"] for r in group), 4)
        row["day_over_cap"] = sum(r["abandon_rate"] > args.cap for r in group)
        rows.append(row)
        name = policy + _knob(policy, theta)
        print(
            f"{operators:>2} ops {name:>20}: occupancy {row['occupancy']:.3f}±"
            f"{row['occupancy_sd']:.3f}  abandon {row['abandon_rate']:.2%}±"
            f"{row['abandon_rate_sd']:.2%}  worst hour {row['abandon_rate_max_hourly']:.2%}",
            flush=True,
        )
    print(
        f"\nfrontier: highest occupancy with every day at or under {args.cap:.0%}, and every hour"
    )
    frontier = []
    for operators in args.operators:
        for family in args.policies:
            ok = [
                r
                for r in rows
                if r["operators"] == operators and r["policy"] == family and not r["day_over_cap"]
            ]
            hourly_ok = [r for r in ok if r["abandon_rate_max_hourly"] <= args.cap]
            best = max(ok, key=lambda r: r["occupancy"], default=None)
            best_hourly = max(hourly_ok, key=lambda r: r["occupancy"], default=None)
            frontier.append(
                {"operators": operators, "policy": family, "day": best, "every_hour": best_hourly}
            )
            print(
                f"{operators:>2} ops {family:>15}: day {_brief(best)}; every hour {_brief(best_hourly)}"
            )
    figures = {
        "benchmark": "pacing_frontier",
        "command": "PYTHONPATH=. python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "hours": args.hours,
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "cap": args.cap,
        "summary": rows,
        "frontier": frontier,
        "runs": runs,
        "wall_s": round(time.monotonic() - began, 1),
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _brief(row: dict[str, Any] | None) -> str:
    if row is None:
        return "none"
    return (
        f"{row['occupancy']:.3f} at {row['abandon_rate']:.2%}{_knob(row['policy'], row['theta'])}"
    )


def _knob(policy: str, theta: Any) -> str:
    if policy == "predictive" and theta:
        return f" target={theta:.1%}"
    if policy == "threshold":
        return f" θ={theta:.1%}"
    if policy == "lookahead":
        return f" k={theta[0]:g} L={theta[1]:g}s"
    return ""


if __name__ == "__main__":
    sys.exit(main())
