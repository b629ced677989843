"""What a report holds: plain frozen values, the same for every format (table, CSV, JSON,
HTML, e-mail, API). ``Report.as_dict()`` is the documented JSON shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from dialerd.formats import decimal_amount, utc_iso

# The metrics (docs/metrics.md), in the order tables and CSV show them.
METRIC_NAMES: tuple[str, ...] = (
    "leads_received",
    "duplicates",
    "duplicate_rate",
    "leads_processed",
    "leads_contacted",
    "contact_rate",
    "attempts",
    "answered_attempts",
    "answer_rate",
    "conversations",
    "attempts_per_lead",
    "leads_fake",
    "fake_rate",
    "leads_confirmed",
    "confirmation_rate",
    "revenue",
    "average_check",
    "speed_to_lead_median_s",
    "speed_to_lead_p90_s",
    "speed_to_lead_within_target",
    "aht_s",
    "aht_forecast_ratio",
    "fcr",
    "staffed_hours",
    "paused_s",
    "billed_minutes",
    "cost",
    "cost_per_contact",
    "abandoned_attempts",
    "abandon_rate",
    "machine_attempts",
    "machine_share",
    "nps",
    "nps_answers",
    "csat",
    "csat_answers",
    "surveys_unanswered",
    "dead_air_median_s",
    "dead_air_p95_s",
    "inbound_offered",
    "inbound_answered_in_target",
    "service_level",
    "inbound_abandoned",
    "occupancy",
    "repeat_customers",
    "repeat_customer_rate",
    "upsells",
    "upsell_rate",
)


# What a person reads for each metric (the table, e-mails; docs/metrics.md names them too)
METRIC_LABELS: dict[str, str] = {
    "leads_received": "leads received",
    "duplicates": "duplicates",
    "duplicate_rate": "duplicate rate",
    "leads_processed": "leads dialed",
    "leads_contacted": "leads contacted",
    "contact_rate": "contact rate",
    "attempts": "attempts",
    "answered_attempts": "answered",
    "answer_rate": "answer rate",
    "conversations": "conversations",
    "attempts_per_lead": "attempts per lead",
    "leads_fake": "fake leads",
    "fake_rate": "fake rate",
    "leads_confirmed": "confirmed",
    "confirmation_rate": "confirmation rate",
    "revenue": "revenue",
    "average_check": "average order",
    "speed_to_lead_median_s": "speed to lead, median",
    "speed_to_lead_p90_s": "speed to lead, 90th percentile",
    "speed_to_lead_within_target": "dialed within target",
    "aht_s": "average handling time",
    "aht_forecast_ratio": "handling time vs forecast",
    "fcr": "first call resolution",
    "staffed_hours": "staffed hours",
    "paused_s": "paused",
    "billed_minutes": "billed minutes",
    "cost": "cost",
    "cost_per_contact": "cost per conversation",
    "abandoned_attempts": "abandoned",
    "abandon_rate": "abandon rate",
    "machine_attempts": "answering machines",
    "machine_share": "machine share",
    "nps": "NPS",
    "nps_answers": "NPS answers",
    "csat": "CSAT",
    "csat_answers": "CSAT answers",
    "surveys_unanswered": "surveys unanswered",
    "dead_air_median_s": "answer to operator, median",
    "dead_air_p95_s": "answer to operator, 95th percentile",
    "inbound_offered": "inbound offered",
    "inbound_answered_in_target": "inbound answered in time",
    "service_level": "service level",
    "inbound_abandoned": "inbound abandoned",
    "occupancy": "occupancy",
    "repeat_customers": "repeat customers",
    "repeat_customer_rate": "repeat customer rate",
    "upsells": "upsells",
    "upsell_rate": "upsell rate",
}
# Amounts, in the shop's major units: decimal strings in JSON and CSV
MONEY = frozenset({"revenue", "average_check", "cost", "cost_per_contact"})
ROW_LISTS = ("rows", "daily", "operators")


def money_text(value: float | None) -> str | None:
    """1299.9 → "1299.90": the decimal string the API and the webhook use for money."""
    return None if value is None else decimal_amount(round(value * 100))


@dataclass(frozen=True)
class Metrics:
    """One row of numbers (the whole period, or one group of a breakdown).

    Rates are shares in [0, 1] (None when their denominator is 0), durations seconds,
    money in the shop's major units rounded to cents. A metric that has no meaning for a
    breakdown (speed to lead per operator) is None there.
    """

    leads_received: int | None = 0  # stored leads + duplicates refused at intake
    duplicates: int | None = 0
    duplicate_rate: float | None = None
    leads_processed: int | None = 0  # leads with ≥ 1 attempt
    leads_contacted: int | None = 0  # leads with ≥ 1 conversation
    contact_rate: float | None = None
    attempts: int = 0  # finished attempts
    answered_attempts: int = 0  # the customer answered (a conversation or abandoned)
    answer_rate: float | None = None
    conversations: int = 0  # answered and connected to an operator
    attempts_per_lead: float | None = None
    leads_fake: int | None = 0
    fake_rate: float | None = None
    leads_confirmed: int = 0
    confirmation_rate: float | None = None
    revenue: float = 0.0
    average_check: float | None = None
    speed_to_lead_median_s: float | None = None
    speed_to_lead_p90_s: float | None = None
    speed_to_lead_within_target: float | None = None
    aht_s: float | None = None
    aht_forecast_ratio: float | None = None
    fcr: float | None = None
    staffed_hours: float | None = 0.0
    paused_s: float | None = 0.0  # operators' paused time, part of staffed time (issue 12)
    billed_minutes: float = 0.0
    cost: float | None = 0.0
    cost_per_contact: float | None = None
    abandoned_attempts: int = 0
    abandon_rate: float | None = None
    machine_attempts: int = 0  # answered by an answering machine (AMD) and dropped
    machine_share: float | None = None  # of calls answered by a person or a machine
    nps: float | None = None  # % promoters (9-10) − % detractors (0-6), -100..100
    nps_answers: int = 0
    csat: float | None = None  # share of 4-5 answers
    csat_answers: int = 0
    surveys_unanswered: int = 0  # surveys that ended without a digit
    # answered customer_first/predictive calls: the customer's answer → the operator's arrival
    dead_air_median_s: float | None = None
    dead_air_p95_s: float | None = None
    inbound_offered: int | None = 0
    inbound_answered_in_target: int | None = 0
    service_level: float | None = None
    inbound_abandoned: int | None = 0
    occupancy: float | None = None
    repeat_customers: int = 0
    repeat_customer_rate: float | None = None
    upsells: int = 0
    upsell_rate: float | None = None
    outcomes: dict[str, int] = field(default_factory=dict)  # finished attempts by outcome
    # paused seconds by reason ("(none)": paused without one); empty where staff does not apply
    paused_s_by_reason: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    key: str  # "2026-11-23", "14" (hour of day), a group, operator or campaign name
    metrics: Metrics


@dataclass(frozen=True)
class HourLoad:
    """One hour of the day (centre's time zone) over the period: the load and who was there."""

    hour: int
    leads_received: int  # arrivals (stored leads)
    attempts: int
    conversations: int
    staffed_operators: float  # mean logged-in operators during this hour, over the period's days
    free_operators: float  # mean free operators
    needed_operators: int | None  # staffing estimate (Erlang C) for the speed-to-lead target


@dataclass(frozen=True)
class SpeedBucket:
    """Speed-to-lead distribution: leads first dialed within ``up_to_s`` (None: beyond the last)."""

    up_to_s: float | None
    leads: int


@dataclass(frozen=True)
class CallerIdRow:
    """A caller ID number of a campaign: its attempts and answer rate, next to the campaign's
    own (a number answered far less often than its campaign's others is likely labelled
    spam by carriers)."""

    campaign: str
    caller_id: str
    attempts: int
    answered: int
    answer_rate: float | None
    campaign_answer_rate: float | None


@dataclass(frozen=True)
class Period:
    first_day: str  # ISO date, centre's time zone, inclusive
    last_day: str  # inclusive
    timezone: str
    start: float  # epoch seconds, first_day 00:00 local
    end: float  # epoch seconds, the day after last_day 00:00 local (exclusive)

    @property
    def day_count(self) -> int:
        return (date.fromisoformat(self.last_day) - date.fromisoformat(self.first_day)).days + 1


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: float
    by: str | None  # the breakdown of ``rows``
    totals: Metrics
    rows: list[Row]
    daily: list[Row]  # by date (the charts)
    operators: list[Row]  # by operator (the league table)
    hourly_load: list[HourLoad]
    speed_to_lead: list[SpeedBucket]
    speed_to_lead_target_s: float  # the (first) campaign's target, for the chart's line
    currency: str | None = None  # ISO 4217 (reports.currency); None: not configured
    caller_ids: list[CallerIdRow] = field(default_factory=list)  # answer rate per caller ID

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape: instants as ISO 8601 with offset and money as decimal strings
        ("1299.90"), as the API and the CRM webhook carry them."""
        data = asdict(self)
        for metrics in [data["totals"], *(r["metrics"] for k in ROW_LISTS for r in data[k])]:
            for name in MONEY:
                metrics[name] = money_text(metrics[name])
        data["generated_at"] = utc_iso(self.generated_at)
        data["period"]["start"] = utc_iso(self.period.start)
        data["period"]["end"] = utc_iso(self.period.end)
        return data
