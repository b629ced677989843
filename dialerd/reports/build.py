"""A report of a period: the store's facts folded into the totals and the breakdowns.

Facts come per 15-minute bucket (``store/report_facts.py``); here each bucket is given
its local date and hour in the centre's time zone and its group (campaign → its group,
operator → their group, queue → the group answering it), then summed and turned into
metrics by ``reports.metrics.derive``, the one place the formulas live.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from dialerd.config import Settings
from dialerd.policy.window import CallingWindow
from dialerd.reports.metrics import LOGGED_OUT_STATES, Applies, Rates, Tally, derive
from dialerd.reports.model import HourLoad, Metrics, Period, Report, Row, SpeedBucket
from dialerd.reports.staffing import operators_needed
from dialerd.store import report_facts as facts
from dialerd.store.db import Database

BREAKDOWNS = ("date", "hour", "group", "operator", "campaign")
NO_OPERATOR = "(none)"
NO_GROUP = "(none)"
# Speed-to-lead histogram bounds (seconds); the last bucket holds the rest.
SPEED_BOUNDS_S = (60, 120, 300, 600, 900, 1800, 3600, 4 * 3600)
_APPLIES = {
    None: Applies(),
    "date": Applies(),
    "hour": Applies(),
    "group": Applies(),
    "operator": Applies(leads=False, inbound=False),
    "campaign": Applies(staff=False, inbound=False),
}


class Facts:
    """Everything a period's report reads from the store, read once."""

    def __init__(self) -> None:
        self.leads: list[facts.LeadFacts] = []
        self.duplicates: list[tuple[int, str, int]] = []
        self.confirmed: list[facts.ConfirmedFacts] = []
        self.speeds: list[facts.SpeedFact] = []
        self.calls: list[facts.CallFacts] = []
        self.spans: list[facts.OperatorSpan] = []
        self.inbound: list[facts.InboundFacts] = []


async def read_facts(
    db: Database, settings: Settings, start: float, end: float, now: float, *, speeds: bool = True
) -> Facts:
    """``speeds``: also each lead's first dial (a distribution; the one per-lead read)."""
    reports = settings.reports
    read = Facts()
    read.leads = await facts.lead_facts(db, start, end)
    read.duplicates = await facts.duplicate_facts(db, start, end)
    read.confirmed = await facts.confirmed_facts(db, start, end)
    if speeds:
        read.speeds = await facts.speed_facts(db, start, end)
    read.calls = await facts.call_facts(
        db,
        start,
        end,
        billing_increment_s=reports.costs.billing_increment_s,
        abandon_after_s={name: c.abandon.after_s for name, c in settings.campaigns.items()},
    )
    read.spans = await facts.operator_spans(db, start, end, now)
    read.inbound = await facts.inbound_facts(
        db, start, end, answer_within_s=reports.service_level.answer_within_s
    )
    return read


async def build_report(
    db: Database, settings: Settings, period: Period, by: str | None, *, now: float
) -> Report:
    """The report of ``period`` as of ``now``, rows broken down ``by`` (or none)."""
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"by: one of {', '.join(BREAKDOWNS)}, not {by!r}")
    read = await read_facts(db, settings, period.start, period.end, now)
    return fold(read, settings, period, by, now=now)


async def build_totals(
    db: Database, settings: Settings, start: float, end: float, *, now: float
) -> Metrics:
    """Totals of [start, end) without speed to lead: the cheap read ``/metrics`` counts with."""
    read = await read_facts(db, settings, start, end, now, speeds=False)
    keys = _Keys(settings, settings.window.timezone)
    return derive(_tally(read, keys, settings, None)[""], _rates(settings))


def fold(read: Facts, settings: Settings, period: Period, by: str | None, *, now: float) -> Report:
    keys = _Keys(settings, period.timezone)
    rates = _rates(settings)
    tallies = {name: _tally(read, keys, settings, name) for name in (None, *BREAKDOWNS)}
    total = tallies[None][""]

    def rows(name: str) -> list[Row]:
        ordered = sorted(tallies[name].items(), key=lambda item: _sort_key(name, item[0]))
        return [Row(key, derive(tally, rates, _APPLIES[name])) for key, tally in ordered]

    return Report(
        period=period,
        generated_at=now,
        by=by,
        totals=derive(total, rates),
        rows=rows(by) if by else [],
        daily=_all_days(rows("date"), period),
        operators=[row for row in rows("operator") if row.key != NO_OPERATOR],
        hourly_load=_hourly_load(read, keys, tallies["hour"], total, settings, period),
        speed_to_lead=_speed_histogram(total.speeds),
        speed_to_lead_target_s=_speed_target_s(settings),
    )


def _rates(settings: Settings) -> Rates:
    return Rates(
        operator_per_hour=settings.reports.costs.operator_per_hour,
        telephony_per_minute=settings.reports.costs.telephony_per_minute,
        aht_forecast_s=settings.reports.aht_forecast_s,
    )


class _Keys:
    """Local date/hour of a bucket (cached: a year has 35,040 of them) and the groups."""

    def __init__(self, settings: Settings, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self._local: dict[int, dt.datetime] = {}
        self.campaign_group = {
            name: campaign.group or NO_GROUP for name, campaign in settings.campaigns.items()
        }
        self.operator_group = {op.name: op.group for op in settings.operators}
        self.queue_group = {
            group.queue: name for name, group in settings.groups.items() if group.queue
        }

    def local(self, bucket: int) -> dt.datetime:
        moment = self._local.get(bucket)
        if moment is None:
            moment = dt.datetime.fromtimestamp(bucket * facts.BUCKET_S, self.zone)
            self._local[bucket] = moment
        return moment

    def date(self, bucket: int) -> str:
        return self.local(bucket).date().isoformat()

    def hour(self, bucket: int) -> str:
        return f"{self.local(bucket).hour:02d}"


KeyOf = Callable[..., str]


def _key_of(keys: _Keys, by: str | None) -> KeyOf:
    """The breakdown key of a fact: its bucket's date or hour, or its campaign, operator, group."""

    def key(bucket: int, campaign: str | None = None, operator: str | None = None) -> str:
        if by is None:
            return ""
        if by == "date":
            return keys.date(bucket)
        if by == "hour":
            return keys.hour(bucket)
        if by == "campaign":
            return campaign or ""
        if by == "operator":
            return operator or NO_OPERATOR
        # group: the operator's group for their own time, else the campaign's
        if operator is not None and campaign is None:
            return keys.operator_group.get(operator, NO_GROUP)
        return keys.campaign_group.get(campaign or "", NO_GROUP)

    return key


def _tally(read: Facts, keys: _Keys, settings: Settings, by: str | None) -> dict[str, Tally]:
    """Sum the facts into one tally per key of breakdown ``by`` (None: one total)."""
    out: dict[str, Tally] = defaultdict(Tally)
    applies, key = _APPLIES[by], _key_of(keys, by)
    if applies.leads:
        _add_leads(out, key, read, settings.window.build())
    _add_calls(out, key, read)
    if applies.staff:
        for operator, bucket, state, seconds in _split_spans(read.spans):
            t = out[key(bucket, None, operator)]
            if state not in LOGGED_OUT_STATES:
                t.logged_in_s += seconds
            if state == "free":
                t.free_s += seconds
    if applies.inbound:
        for call_in in read.inbound:
            group = keys.queue_group.get(call_in.queue, NO_GROUP)
            t = out[group if by == "group" else key(call_in.bucket)]
            t.inbound_offered += call_in.offered
            t.inbound_in_target += call_in.answered_in_target
            t.inbound_abandoned += call_in.abandoned
    if by is None:
        out[""]  # a total exists even for an empty period
    return out


def _add_leads(out: dict[str, Tally], key: KeyOf, read: Facts, window: CallingWindow) -> None:
    for lead in read.leads:
        t = out[key(lead.bucket, lead.campaign)]
        t.leads_stored += lead.stored
        t.processed += lead.processed
        t.contacted += lead.contacted
        t.lead_attempts += lead.attempts
        t.fake += lead.fake
        t.duplicate_marked += lead.duplicate
        t.first_conversation_settled += lead.first_conversation_settled
    for bucket, campaign, count in read.duplicates:
        out[key(bucket, campaign)].duplicates += count
    for speed in read.speeds:
        t = out[key(int(speed.received_at // facts.BUCKET_S), speed.campaign)]
        t.speeds.append(speed.first_attempt_at - _clock_start(speed.received_at, window))
        t.within_target += speed.first_attempt_at <= speed.deadline_at


def _add_calls(out: dict[str, Tally], key: KeyOf, read: Facts) -> None:
    for confirmed in read.confirmed:
        t = out[key(confirmed.bucket, confirmed.campaign, confirmed.operator)]
        t.confirmed += confirmed.confirmed
        t.revenue_minor += confirmed.revenue_minor
        t.upsells += confirmed.upsells
        t.repeat_customers += confirmed.repeat_customers
    for call in read.calls:
        t = out[key(call.bucket, call.campaign, call.operator)]
        t.attempts += call.attempts
        t.answered += call.answered
        t.talk_s += call.talk_s
        t.wrapup_s += call.wrapup_s
        t.billed_s += call.billed_s
        t.paced_answered += call.paced_answered
        t.abandoned += call.abandoned
        t.outcomes.update(call.outcomes)


def _split_spans(spans: Iterable[facts.OperatorSpan]) -> Iterable[tuple[str, int, str, float]]:
    """(operator, bucket, state, seconds) for each 15-minute bucket a span covers."""
    size = facts.BUCKET_S
    for span in spans:
        at = span.start
        while at < span.end:
            bucket = int(at // size)
            until = min(span.end, (bucket + 1) * size)
            yield span.operator, bucket, span.state, until - at
            at = until


def _clock_start(received_at: float, window: CallingWindow) -> float:
    return window.next_open(dt.datetime.fromtimestamp(received_at, dt.UTC)).timestamp()


def _sort_key(by: str, key: str) -> tuple[int, str]:
    return (key in (NO_OPERATOR, NO_GROUP), key)


def _all_days(rows: list[Row], period: Period) -> list[Row]:
    """Every day of the period, an empty one included (a chart must show the gap)."""
    have = {row.key: row for row in rows}
    first, last = dt.date.fromisoformat(period.first_day), dt.date.fromisoformat(period.last_day)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    empty = Metrics()
    return [have.get(day.isoformat(), Row(day.isoformat(), empty)) for day in days]


def _days_in(period: Period) -> int:
    first, last = dt.date.fromisoformat(period.first_day), dt.date.fromisoformat(period.last_day)
    return (last - first).days + 1


def _hourly_load(
    read: Facts,
    keys: _Keys,
    by_hour: dict[str, Tally],
    total: Tally,
    settings: Settings,
    period: Period,
) -> list[HourLoad]:
    """Load by hour of day against who was there and who the speed-to-lead target needs.

    The staffing estimate counts a lead in the hour its speed-to-lead clock starts: one
    arriving in the night pause is work for the hour the window opens, not for 03:00.
    """
    days = _days_in(period)
    conversations = total.outcomes.get("answered", 0)
    aht = (total.talk_s + total.wrapup_s) / conversations if conversations else None
    target_s = _speed_target_s(settings)
    demand = _demand_by_hour(read, keys, settings.window.build())
    load = []
    for hour in range(24):
        t = by_hour.get(f"{hour:02d}", Tally())
        needed = (
            operators_needed(
                demand.get(hour, 0) / days, aht, target_s, settings.reports.staffing_target_share
            )
            if aht
            else None
        )
        load.append(
            HourLoad(
                hour=hour,
                leads_received=t.leads_stored,
                attempts=t.attempts,
                conversations=t.outcomes.get("answered", 0),
                staffed_operators=t.logged_in_s / (3600 * days),
                free_operators=t.free_s / (3600 * days),
                needed_operators=needed,
            )
        )
    return load


def _demand_by_hour(read: Facts, keys: _Keys, window: CallingWindow) -> dict[int, int]:
    """New leads by the local hour their speed-to-lead clock starts."""
    demand: dict[int, int] = defaultdict(int)
    for lead in read.leads:
        start = _clock_start(lead.bucket * facts.BUCKET_S, window)
        demand[dt.datetime.fromtimestamp(start, keys.zone).hour] += lead.stored
    return demand


def _speed_histogram(speeds: list[float]) -> list[SpeedBucket]:
    counts = [0] * (len(SPEED_BOUNDS_S) + 1)
    for speed in speeds:
        index = next((i for i, bound in enumerate(SPEED_BOUNDS_S) if speed <= bound), -1)
        counts[index] += 1
    bounds: list[float | None] = [float(b) for b in SPEED_BOUNDS_S]
    return [SpeedBucket(bound, n) for bound, n in zip([*bounds, None], counts, strict=True)]


def _speed_target_s(settings: Settings) -> float:
    return settings.campaigns[settings.default_campaign].speed_to_lead_min * 60
