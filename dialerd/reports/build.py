"""A report of a period: what was read from the store folded into totals and breakdowns.

``reports.reading`` reads the facts once; here each 15-minute bucket is given its local
date and hour in the centre's time zone and its group (campaign → its group, operator →
their group, queue → the group answering it), then summed and turned into metrics by
``reports.metrics.derive``, the one place the formulas live.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from dialerd.config import Settings
from dialerd.reports.metrics import Applies, Rates, Tally, derive
from dialerd.reports.model import (
    CallerIdRow,
    HourLoad,
    Metrics,
    Period,
    Report,
    Row,
    SpeedBucket,
)
from dialerd.reports.reading import NEEDS, Facts, read_facts
from dialerd.reports.staffing import operators_needed
from dialerd.store import report_facts as facts
from dialerd.store.sql import Store

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
    "operator": Applies(leads=False, inbound=False, operator_leads=True),
    "campaign": Applies(staff=False, inbound=False),
}


async def build_report(
    db: Store, settings: Settings, period: Period, by: str | None, *, now: float
) -> Report:
    """The report of ``period`` as of ``now``, rows broken down ``by`` (or none)."""
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"by: one of {', '.join(BREAKDOWNS)}, not {by!r}")
    needed = {None, "date", "hour", "operator", by}
    read = await read_facts(db, settings, period.start, period.end, now, needed)
    return fold(read, settings, period, by, now=now)


async def build_totals(
    db: Store, settings: Settings, start: float, end: float, *, now: float
) -> Metrics:
    """Totals of [start, end) without speed to lead: the cheap read ``/metrics`` counts with."""
    read = await read_facts(db, settings, start, end, now, speeds=False)
    keys = _Keys(settings, settings.window.timezone)
    return derive(_tally(read, keys, None)[""], _rates(settings))


def fold(read: Facts, settings: Settings, period: Period, by: str | None, *, now: float) -> Report:
    keys = _Keys(settings, period.timezone)
    rates = _rates(settings)
    tallies = {name: _tally(read, keys, name) for name in {None, "date", "hour", "operator", by}}
    total = tallies[None][""]

    def rows(name: str) -> list[Row]:
        ordered = sorted(tallies[name].items(), key=lambda item: _sort_key(item[0]))
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
        currency=settings.reports.currency,
        caller_ids=_caller_ids(read),
        locale=settings.reports.locale or settings.console.language,
    )


def _caller_ids(read: Facts) -> list[CallerIdRow]:
    """Each campaign's caller IDs with their answer rate and the campaign's over them all."""
    per_campaign: dict[str, tuple[int, int]] = {}
    for fact in read.caller_ids:
        attempts, answered = per_campaign.get(fact.campaign, (0, 0))
        per_campaign[fact.campaign] = (attempts + fact.attempts, answered + fact.answered)
    return [
        CallerIdRow(
            fact.campaign,
            fact.caller_id,
            fact.attempts,
            fact.answered,
            fact.answered / fact.attempts if fact.attempts else None,
            _rate(*per_campaign[fact.campaign]),
        )
        for fact in read.caller_ids
    ]


def _rate(attempts: int, answered: int) -> float | None:
    return answered / attempts if attempts else None


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


KeyOf = Callable[[facts.Key], str]


def _key_of(keys: _Keys, by: str | None) -> KeyOf:
    """The breakdown key of a count: its bucket's date or hour, its campaign, group, operator."""
    if by is None:
        return lambda key: ""
    if by == "date":
        return lambda key: keys.date(_bucket(key))
    if by == "hour":
        return lambda key: keys.hour(_bucket(key))
    if by == "campaign":
        return lambda key: key.campaign or ""
    if by == "operator":
        return lambda key: key.operator or NO_OPERATOR
    return lambda key: keys.campaign_group.get(key.campaign or "", NO_GROUP)


def _bucket(key: facts.Key) -> int:
    assert key.bucket is not None, "a date or hour needs counts read by bucket"
    return key.bucket


def _tally(read: Facts, keys: _Keys, by: str | None) -> dict[str, Tally]:
    """Sum the counts into one tally per key of breakdown ``by`` (None: one total)."""
    out: dict[str, Tally] = defaultdict(Tally)
    applies, key, dims = _APPLIES[by], _key_of(keys, by), NEEDS[by]
    if applies.leads:
        _add_leads(out, key, read, dims)
    _add_calls(out, key, read, dims)
    if applies.operator_leads:
        for mine in read.operator_leads:
            t = out[mine.operator]
            t.contacted += mine.contacted
            t.fake += mine.fake
            t.duplicate_marked += mine.duplicate
            t.first_conversations += mine.first_conversations
            t.first_conversation_settled += mine.first_settled
    if applies.staff:
        _add_staff(out, keys, read, by)
    if applies.inbound:
        for call_in in read.inbound:
            group = keys.queue_group.get(call_in.queue, NO_GROUP)
            t = out[group if by == "group" else key(facts.Key(call_in.bucket))]
            t.inbound_offered += call_in.offered
            t.inbound_in_target += call_in.answered_in_target
            t.inbound_abandoned += call_in.abandoned
    if by is None:
        out[""]  # a total exists even for an empty period
    return out


def _add_leads(out: dict[str, Tally], key: KeyOf, read: Facts, dims: facts.Dims) -> None:
    for lead in read.leads[dims]:
        t = out[key(lead.key)]
        t.leads_stored += lead.stored
        t.processed += lead.processed
        t.contacted += lead.contacted
        t.lead_attempts += lead.attempts
        t.fake += lead.fake
        t.duplicate_marked += lead.duplicate
        t.first_conversation_settled += lead.first_conversation_settled
    for dup_key, count in read.duplicates:
        out[key(dup_key)].duplicates += count
    for speed_key, speeds in read.speeds.items():
        t = out[key(speed_key)]
        t.speeds.extend(speeds.seconds)
        t.within_target += speeds.within_target


def _add_calls(out: dict[str, Tally], key: KeyOf, read: Facts, dims: facts.Dims) -> None:
    for confirmed in read.confirmed[dims]:
        t = out[key(confirmed.key)]
        t.confirmed += confirmed.confirmed
        t.revenue_minor += confirmed.revenue_minor
        t.upsells += confirmed.upsells
        t.repeat_customers += confirmed.repeat_customers
    for call in read.calls[dims]:
        t = out[key(call.key)]
        t.attempts += call.attempts
        t.answered += call.answered
        t.talk_s += call.talk_s
        t.wrapup_s += call.wrapup_s
        t.billed_s += call.billed_s
        t.paced_answered += call.paced_answered
        t.abandoned += call.abandoned
        t.machines += call.machines
        t.outcomes.update(call.outcomes)
    for scores in read.scores.get(dims, []):
        t = out[key(scores.key)]
        t.nps_answers.update(scores.nps)
        t.csat_answers.update(scores.csat)
        t.surveys_unanswered += scores.unanswered
    for dead in read.dead_air:
        out[key(dead.key)].dead_air.extend(dead.values)


def _add_staff(out: dict[str, Tally], keys: _Keys, read: Facts, by: str | None) -> None:
    """Operators' time (paused time by reason too): by their bucket for dates and hours,
    else by operator (or group)."""
    if by in ("date", "hour"):
        key = _key_of(keys, by)
        for bucket, (logged_in, free) in read.staff_by_bucket.items():
            t = out[key(facts.Key(bucket))]
            t.logged_in_s += logged_in
            t.free_s += free
        for bucket, reasons in read.pauses_by_bucket.items():
            _add_pauses(out[key(facts.Key(bucket))], reasons)
        return

    def tally_of(operator: str) -> Tally:
        if by == "operator":
            return out[operator]
        if by == "group":
            return out[keys.operator_group.get(operator, NO_GROUP)]
        return out[""]

    for operator, (logged_in, free) in read.staff_by_operator.items():
        t = tally_of(operator)
        t.logged_in_s += logged_in
        t.free_s += free
    for operator, reasons in read.pauses_by_operator.items():
        _add_pauses(tally_of(operator), reasons)


def _add_pauses(t: Tally, reasons: dict[str, float]) -> None:
    for reason, seconds in reasons.items():
        t.paused_s_by_reason[reason] += seconds


def _sort_key(key: str) -> tuple[int, str]:
    """Named keys in order, "(none)" last."""
    return (key in (NO_OPERATOR, NO_GROUP), key)


def _all_days(rows: list[Row], period: Period) -> list[Row]:
    """Every day of the period, an empty one included (a chart must show the gap)."""
    have = {row.key: row for row in rows}
    first, last = dt.date.fromisoformat(period.first_day), dt.date.fromisoformat(period.last_day)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    empty = Metrics()
    return [have.get(day.isoformat(), Row(day.isoformat(), empty)) for day in days]


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
    days = period.day_count
    conversations = total.outcomes.get("answered", 0)
    aht = (total.talk_s + total.wrapup_s) / conversations if conversations else None
    target_s = _speed_target_s(settings)
    demand = _demand_by_hour(read, keys)
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


def _demand_by_hour(read: Facts, keys: _Keys) -> dict[int, int]:
    """New leads by the local hour their speed-to-lead clock starts."""
    demand: dict[int, int] = defaultdict(int)
    for lead in read.leads[NEEDS["hour"]]:
        start = read.clock_start(_bucket(lead.key) * facts.BUCKET_S)
        demand[dt.datetime.fromtimestamp(start, keys.zone).hour] += lead.stored
    return demand


def _speed_histogram(speeds: list[float]) -> list[SpeedBucket]:
    ordered = sorted(speeds)  # already sorted by derive: a linear pass
    below = [bisect.bisect_right(ordered, bound) for bound in SPEED_BOUNDS_S]
    counts = [b - a for a, b in zip([0, *below], [*below, len(ordered)], strict=True)]
    bounds: list[float | None] = [float(b) for b in SPEED_BOUNDS_S]
    return [SpeedBucket(bound, n) for bound, n in zip([*bounds, None], counts, strict=True)]


def _speed_target_s(settings: Settings) -> float:
    return settings.campaigns[settings.default_campaign].speed_to_lead_min * 60
