"""``/metrics`` in Prometheus text format: what is happening now, and the report's counts.

Three families, all from the same definitions as ``dialerd report``:
- live gauges: calls in flight, free operators, leads waiting by tier, the oldest new
  lead's age, the CRM outbox backlog, AMI connected;
- ``_total`` counters: every count of the report over all time (leads received,
  attempts by outcome, conversations, confirmed, revenue, ...), so PromQL can rate them;
- ``dialerd_today_*`` gauges: every number of today's report (the centre's local day),
  equal to ``dialerd report`` and ``GET /api/v1/reports/summary`` for today.
The store is read at most every ``CACHE_S`` seconds, however often Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dialerd.api.context import ApiContext, LiveState, context
from dialerd.config import Settings
from dialerd.policy.priority import Scheme, describe_rank
from dialerd.reports.build import build_report, build_totals
from dialerd.reports.model import METRIC_NAMES, CallerIdRow, Metrics
from dialerd.reports.period import days, local_today
from dialerd.store import live as live_store
from dialerd.store.report_facts import OUTCOMES

CACHE_S = 10.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Counts of the report that only grow: exposed as counters over all time.
COUNTERS: dict[str, str] = {
    "leads_received": "leads received (stored and refused as duplicates)",
    "duplicates": "leads refused at intake as duplicates",
    "leads_processed": "leads dialed at least once",
    "leads_contacted": "leads with at least one conversation",
    "answered_attempts": "attempts the customer answered",
    "conversations": "answered attempts connected to an operator",
    "leads_fake": "leads an operator marked fake",
    "leads_confirmed": "orders confirmed",
    "revenue": "sum of confirmed amounts (major units)",
    "billed_minutes": "answered call minutes as the carrier bills them",
    "abandoned_attempts": "answered customers no operator took in time, machines dropped too",
    "machine_attempts": "calls an answering machine answered, dropped",
    "nps_answers": "post-call survey answers to the 0-10 question",
    "csat_answers": "post-call survey answers to the 1-5 question",
    "surveys_unanswered": "post-call surveys that ended without a digit",
    "inbound_offered": "calls offered to inbound queues",
    "inbound_answered_in_target": "inbound calls answered within the service-level time",
    "inbound_abandoned": "inbound callers who hung up waiting",
    "repeat_customers": "confirmed orders from a phone with an earlier confirmed order",
    "upsells": "confirmed orders flagged upsell",
}
_FAR = 4102444800.0  # 2100-01-01: "all time" for the counters


@dataclass(frozen=True)
class Snapshot:
    at: float
    live: LiveState
    waiting: live_store.Waiting
    all_time: Metrics
    today: Metrics
    schemes: dict[str, Scheme]
    caller_ids: tuple[CallerIdRow, ...] = ()  # today's answer rate per caller ID


class MetricsCache:
    """The last snapshot, one per app (``app.state.metrics_cache``)."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.lock = asyncio.Lock()


async def metrics_endpoint(request: Request) -> Response:
    ctx = context(request)
    snapshot = await _snapshot(ctx, request.app.state.metrics_cache)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snapshot))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)


async def _snapshot(ctx: ApiContext, cache: MetricsCache) -> Snapshot:
    async with cache.lock:
        now = ctx.clock()
        if cache.snapshot is None or now - cache.snapshot.at >= CACHE_S or now < cache.snapshot.at:
            cache.snapshot = await _read(ctx, ctx.settings(), now)
        return cache.snapshot


async def _read(ctx: ApiContext, settings: Settings, now: float) -> Snapshot:
    db = ctx.reader
    tz = settings.window.timezone
    today = local_today(now, tz)
    report = await build_report(db, settings, days(today, today, tz), None, now=now)
    return Snapshot(
        at=now,
        live=ctx.live(now),
        waiting=await live_store.waiting(db),
        all_time=await build_totals(db, settings, 0.0, _FAR, now=now),
        today=report.totals,
        schemes={name: campaign.scheme for name, campaign in settings.campaigns.items()},
        caller_ids=tuple(report.caller_ids),
    )


class _Collector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _gauge(
            "dialerd_calls_in_flight", "calls being dialed or talked now", s.live.calls_in_flight
        )
        yield _gauge(
            "dialerd_operators_free", "operators free for a call now", s.live.operators_free
        )
        yield _gauge(
            "dialerd_ami_connected", "1 while logged in to Asterisk", int(s.live.ami_connected)
        )
        waiting = GaugeMetricFamily(
            "dialerd_leads_waiting",
            "leads waiting to be dialed, by tier",
            labels=["campaign", "tier"],
        )
        for campaign, rank, count in s.waiting.by_rank:
            scheme = s.schemes.get(campaign, Scheme.TIERS)
            waiting.add_metric([campaign, describe_rank(scheme, rank)], count)
        yield waiting
        oldest = s.waiting.oldest_new_received_at
        yield _gauge(
            "dialerd_oldest_new_lead_age_seconds",
            "age of the oldest lead not dialed yet (0: none waiting)",
            max(0.0, s.at - oldest) if oldest is not None else 0.0,
        )
        yield _gauge(
            "dialerd_outbox_backlog", "CRM results not delivered yet", s.waiting.outbox_backlog
        )
        yield _gauge("dialerd_outbox_parked", "CRM results given up on", s.waiting.outbox_parked)
        yield from _counters(s.all_time)
        yield from _today(s.today)
        yield from _caller_ids(s.caller_ids)


def _caller_ids(rows: tuple[CallerIdRow, ...]) -> Iterator[Metric]:
    """Today's attempts and answer rate per caller ID number, by campaign."""
    labels = ["campaign", "caller_id"]
    attempts = GaugeMetricFamily(
        "dialerd_today_caller_id_attempts", "today's finished attempts by caller ID", labels=labels
    )
    rates = GaugeMetricFamily(
        "dialerd_today_caller_id_answer_rate",
        "today's answer rate by caller ID (answered / attempts)",
        labels=labels,
    )
    for row in rows:
        attempts.add_metric([row.campaign, row.caller_id], row.attempts)
        if row.answer_rate is not None:
            rates.add_metric([row.campaign, row.caller_id], row.answer_rate)
    yield attempts
    yield rates


def _counters(totals: Metrics) -> Iterator[Metric]:
    values = asdict(totals)
    for name, help_text in COUNTERS.items():
        family = CounterMetricFamily(f"dialerd_{name}", f"{help_text}, all time")
        family.add_metric([], float(values[name] or 0))
        yield family
    attempts = CounterMetricFamily(
        "dialerd_attempts", "finished dial attempts by outcome, all time", labels=["outcome"]
    )
    for outcome in OUTCOMES:
        attempts.add_metric([outcome], totals.outcomes.get(outcome, 0))
    yield attempts


def _today(today: Metrics) -> Iterator[Metric]:
    values = asdict(today)
    for name in METRIC_NAMES:
        value = values[name]
        if value is not None:
            yield _gauge(
                f"dialerd_today_{name}", f"today's {name.replace('_', ' ')} (dialerd report)", value
            )
    outcomes = GaugeMetricFamily(
        "dialerd_today_attempts_by_outcome",
        "today's finished attempts by outcome",
        labels=["outcome"],
    )
    for outcome in OUTCOMES:
        outcomes.add_metric([outcome], today.outcomes.get(outcome, 0))
    yield outcomes


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=float(value))
