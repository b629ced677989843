"""What a period's report reads from the store, read once (``read_facts``).

Counts come per 15-minute bucket, campaign or operator (``store/report_facts.py``), as
the breakdowns asked for need them (``NEEDS``); operators' time still open is cut into
buckets here (paused time by reason too, issue 12), and each dialed new lead's speed to lead is measured from its arrival or
from the calling window's next opening (R5). ``reports.build`` folds what was read.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TypeVar

from dialerd.config import Settings
from dialerd.policy.window import CallingWindow
from dialerd.reports.metrics import LOGGED_OUT_STATES
from dialerd.store import report_facts as facts
from dialerd.store import sql
from dialerd.store.sql import Store

NO_REASON = "(none)"  # a pause without a reason: a supervisor's, a rest after a missed call

# What each breakdown groups the store's counts by (the rest is folded here).
NEEDS: dict[str | None, facts.Dims] = {
    None: ("bucket",),  # the totals sum the date's counts: one read less
    "date": ("bucket",),
    "hour": ("bucket",),
    "campaign": ("campaign",),
    "group": ("campaign",),
    "operator": ("operator",),
}


@dataclass
class Speeds:
    """Speed to lead of the leads of one arrival bucket and campaign."""

    seconds: list[float] = field(default_factory=list)  # arrival (or opening) → first dial
    within_target: int = 0  # dialed by their deadline


@dataclass
class Facts:
    """Everything a period's report reads from the store, read once."""

    leads: dict[facts.Dims, list[facts.LeadFacts]] = field(default_factory=dict)
    confirmed: dict[facts.Dims, list[facts.ConfirmedFacts]] = field(default_factory=dict)
    calls: dict[facts.Dims, list[facts.CallFacts]] = field(default_factory=dict)
    scores: dict[facts.Dims, list[facts.ScoreFacts]] = field(default_factory=dict)
    duplicates: list[tuple[facts.Key, int]] = field(default_factory=list)
    speeds: dict[facts.Key, Speeds] = field(default_factory=dict)
    # answer → operator seconds of answered customer-first calls (bucket, campaign, operator)
    dead_air: list[facts.DeadAirFacts] = field(default_factory=list)
    caller_ids: list[facts.CallerIdFacts] = field(default_factory=list)
    # operators' (logged-in, free) seconds, per operator and per bucket
    staff_by_operator: dict[str, tuple[float, float]] = field(default_factory=dict)
    staff_by_bucket: dict[int, tuple[float, float]] = field(default_factory=dict)
    # operators' paused seconds by reason (NO_REASON: none), per operator and per bucket
    pauses_by_operator: dict[str, dict[str, float]] = field(default_factory=dict)
    pauses_by_bucket: dict[int, dict[str, float]] = field(default_factory=dict)
    inbound: list[facts.InboundFacts] = field(default_factory=list)
    # each operator's leads of the period (the league table's confirmation rate and FCR)
    operator_leads: list[facts.OperatorLeadFacts] = field(default_factory=list)
    # the calling window's closed stretches over the period, (lo, hi, opens), sorted
    closed_spans: list[tuple[float, float, float]] = field(default_factory=list)

    def clock_start(self, at: float) -> float:
        """When a speed-to-lead clock started for a lead arriving at ``at`` in the period."""
        i = bisect.bisect_right(self.closed_spans, (at, math.inf, math.inf)) - 1
        if i >= 0 and self.closed_spans[i][0] <= at < self.closed_spans[i][1]:
            return self.closed_spans[i][2]
        return at


async def read_facts(
    db: Store,
    settings: Settings,
    start: float,
    end: float,
    now: float,
    breakdowns: Iterable[str | None] = (None,),
    *,
    speeds: bool = True,
) -> Facts:
    """The counts the ``breakdowns`` need; ``speeds``: also each lead's first dial (the one
    per-lead read)."""
    read = Facts()
    read.closed_spans = _closed_spans(start, end, settings.policy.window)
    dims_needed = {NEEDS[by] for by in breakdowns}
    async with AsyncExitStack() as stack:
        # Three reads at once, each on a connection (a thread) of its own: SQLite releases
        # the GIL while it works, so on two cores a report takes about its longest read.
        calls_db = await stack.enter_async_context(sql.reading(db))
        speeds_db = await stack.enter_async_context(sql.reading(db)) if speeds else None
        async with asyncio.TaskGroup() as reads:
            reads.create_task(_read_calls(calls_db, read, settings, start, end, dims_needed))
            speeds_read = (
                reads.create_task(_speeds(speeds_db, read, start, end)) if speeds_db else None
            )
            for dims in dims_needed:
                read.leads[dims] = await facts.lead_facts(db, start, end, dims)
            if "operator" in breakdowns:
                read.operator_leads = await facts.operator_lead_facts(db, start, end)
            await _read_the_rest(db, read, settings, start, end, now)
        if speeds_read is not None:
            read.speeds = speeds_read.result()
    return read


async def _read_calls(
    db: Store,
    read: Facts,
    settings: Settings,
    start: float,
    end: float,
    dims_needed: set[facts.Dims],
) -> None:
    late = await facts.late_operators(
        db,
        start,
        end,
        abandon_after_s={name: c.abandon.after_s for name, c in settings.campaigns.items()},
    )
    read.dead_air = await facts.dead_air_facts(db, start, end)
    read.caller_ids = await facts.caller_id_facts(db, start, end)
    for dims in dims_needed:
        read.confirmed[dims] = await facts.confirmed_facts(db, start, end, dims)
        read.calls[dims] = await facts.call_facts(
            db,
            start,
            end,
            dims,
            billing_increment_s=settings.reports.costs.billing_increment_s,
            late=late,
        )
        read.scores[dims] = await facts.score_facts(db, start, end, dims)


async def _read_the_rest(
    db: Store, read: Facts, settings: Settings, start: float, end: float, now: float
) -> None:
    read.duplicates = await facts.duplicate_facts(db, start, end)
    still_open = await facts.open_states(db, start, end, now)
    open_by_operator, open_by_bucket = _staff_time(still_open)
    closed = await facts.staff_seconds(db, start, end, ("operator",))
    read.staff_by_operator = _added(
        open_by_operator, {k.operator: (lo, fr) for k, lo, fr in closed if k.operator}
    )
    closed = await facts.staff_seconds(db, start, end, ("bucket",))
    read.staff_by_bucket = _added(
        open_by_bucket, {k.bucket: (lo, fr) for k, lo, fr in closed if k.bucket is not None}
    )
    read.pauses_by_operator, read.pauses_by_bucket = _pause_time(
        still_open, await facts.pause_seconds(db, start, end)
    )
    read.inbound = await facts.inbound_facts(
        db, start, end, answer_within_s=settings.reports.service_level.answer_within_s
    )


def _staff_time(
    spans: Iterable[facts.OpenState],
) -> tuple[dict[str, tuple[float, float]], dict[int, tuple[float, float]]]:
    """(logged-in, free) seconds per operator and per 15-minute bucket of states still open
    (the closed ones are summed by the store's rollup)."""
    by_operator: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    by_bucket: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for span in spans:
        if span.state in LOGGED_OUT_STATES:
            continue
        free = span.state == "free"
        totals = by_operator[span.operator]
        totals[0] += span.end - span.start
        if free:
            totals[1] += span.end - span.start
        for bucket, seconds in _buckets(span.start, span.end):
            cell = by_bucket[bucket]
            cell[0] += seconds
            if free:
                cell[1] += seconds
    return (
        {name: (v[0], v[1]) for name, v in by_operator.items()},
        {bucket: (v[0], v[1]) for bucket, v in by_bucket.items()},
    )


def _buckets(start: float, end: float) -> Iterable[tuple[int, float]]:
    """[start, end) cut at the 15-minute buckets: (bucket, seconds in it)."""
    size = facts.BUCKET_S
    at = start
    while at < end:
        bucket = int(at // size)
        until = min(end, (bucket + 1) * size)
        yield bucket, until - at
        at = until


def _pause_time(
    spans: Iterable[facts.OpenState], closed: Iterable[tuple[facts.Key, str, float]]
) -> tuple[dict[str, dict[str, float]], dict[int, dict[str, float]]]:
    """Paused seconds by reason, per operator and per bucket: the closed pauses from the
    store's rollup, plus the pauses still open."""
    by_operator: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_bucket: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, reason, seconds in closed:
        if key.bucket is None or key.operator is None:
            continue  # not read that way
        by_operator[key.operator][reason or NO_REASON] += seconds
        by_bucket[key.bucket][reason or NO_REASON] += seconds
    for span in spans:
        if span.state != "paused":
            continue
        reason = span.reason or NO_REASON
        by_operator[span.operator][reason] += span.end - span.start
        for bucket, seconds in _buckets(span.start, span.end):
            by_bucket[bucket][reason] += seconds
    return (
        {name: dict(reasons) for name, reasons in by_operator.items()},
        {bucket: dict(reasons) for bucket, reasons in by_bucket.items()},
    )


T = TypeVar("T")


def _added(
    a: dict[T, tuple[float, float]], b: dict[T, tuple[float, float]]
) -> dict[T, tuple[float, float]]:
    out = dict(a)
    for key, (x, y) in b.items():
        before = out.get(key, (0.0, 0.0))
        out[key] = (before[0] + x, before[1] + y)
    return out


async def _speeds(db: Store, read: Facts, start: float, end: float) -> dict[facts.Key, Speeds]:
    """Each dialed new lead's speed to lead, grouped by arrival bucket and campaign.

    The clock starts at arrival, or at the window's next opening: leads that arrived while
    the window was open count from arrival; the others from the opening that ended their
    closed stretch.
    """
    grouped: dict[facts.Key, Speeds] = defaultdict(Speeds)
    for fact in await facts.speed_facts(db, start, end, read.closed_spans):
        speeds = grouped[fact.key]
        speeds.seconds.extend(fact.values)
        speeds.within_target += fact.within_target
    return dict(grouped)


def _closed_spans(
    start: float, end: float, window: CallingWindow
) -> list[tuple[float, float, float]]:
    """The window's closed stretches in [start, end), each with the opening that ends it."""
    closed: list[tuple[float, float, float]] = []
    at = start
    while at < end:
        opens = _clock_start(at, window)
        if opens > at:
            closed.append((at, min(opens, end), opens))
        if opens >= end:
            break
        closes = window.next_close(dt.datetime.fromtimestamp(opens, dt.UTC))
        at = end if closes is None else min(closes.timestamp(), end)
    return closed


def _clock_start(received_at: float, window: CallingWindow) -> float:
    return window.next_open(dt.datetime.fromtimestamp(received_at, dt.UTC)).timestamp()
