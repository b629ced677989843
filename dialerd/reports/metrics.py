"""The report metrics' formulas (docs/metrics.md), once: additive tallies in, the metrics out (pure, no I/O).

Everything a report shows — in the CLI, the API, e-mails and ``/metrics`` — comes from
``derive``, so the numbers agree to the unit wherever they are read.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from dialerd.formats import major_units
from dialerd.policy import score
from dialerd.reports.model import Metrics

LOGGED_OUT_STATES = frozenset({"unavailable", "unknown"})


@dataclass
class Tally:
    """Additive counts of one group of a report; ``add`` merges groups."""

    leads_stored: int = 0
    duplicates: int = 0
    processed: int = 0
    contacted: int = 0
    lead_attempts: int = 0
    fake: int = 0
    duplicate_marked: int = 0
    first_conversation_settled: int = 0
    first_conversations: int = 0  # an operator's: leads whose first conversation was theirs
    confirmed: int = 0
    revenue_minor: int = 0
    upsells: int = 0
    repeat_customers: int = 0
    speeds: list[float] = field(default_factory=list)  # seconds to the first dial
    within_target: int = 0
    attempts: int = 0
    answered: int = 0
    talk_s: float = 0.0
    wrapup_s: float = 0.0
    billed_s: float = 0.0
    paced_answered: int = 0
    abandoned: int = 0
    machines: int = 0  # answered by a machine and dropped (AMD)
    dead_air: list[float] = field(default_factory=list)  # answer → operator, seconds
    outcomes: Counter[str] = field(default_factory=Counter)
    nps_answers: Counter[int] = field(default_factory=Counter)  # survey answer 0-10 → count
    csat_answers: Counter[int] = field(default_factory=Counter)  # survey answer 1-5 → count
    surveys_unanswered: int = 0
    logged_in_s: float = 0.0
    free_s: float = 0.0
    paused_s_by_reason: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    inbound_offered: int = 0
    inbound_in_target: int = 0
    inbound_abandoned: int = 0


@dataclass(frozen=True)
class Applies:
    """Which families of metrics mean something for a breakdown (speed to lead per
    operator does not; staffed hours per campaign cannot be told)."""

    leads: bool = True  # the lead cohort: received, contacted, fake, FCR, speed to lead
    staff: bool = True  # operators' time: staffed hours, paused time, cost, occupancy
    inbound: bool = True  # inbound queue service level
    # an operator's own leads (talked to, first conversations): confirmation rate and FCR
    operator_leads: bool = False


@dataclass(frozen=True)
class Rates:
    """The configured numbers the formulas need."""

    operator_per_hour: Decimal = Decimal(0)
    telephony_per_minute: Decimal = Decimal(0)
    aht_forecast_s: float | None = None


def derive(t: Tally, rates: Rates, applies: Applies = Applies()) -> Metrics:
    leads, staff, inbound = applies.leads, applies.staff, applies.inbound
    conversations = t.outcomes.get("answered", 0)
    aht = (t.talk_s + t.wrapup_s) / conversations if conversations else None
    revenue = major_units(t.revenue_minor)
    staffed_hours = t.logged_in_s / 3600
    billed_minutes = t.billed_s / 60
    cost = (
        float(
            rates.operator_per_hour * Decimal(str(staffed_hours))
            + rates.telephony_per_minute * Decimal(str(billed_minutes))
        )
        if staff
        else None
    )
    t.speeds.sort()  # in place: the histogram reads them sorted too
    speeds = t.speeds if leads else []
    contacted = t.contacted
    settled = contacted - t.fake - t.duplicate_marked
    return Metrics(
        leads_received=t.leads_stored + t.duplicates if leads else None,
        duplicates=t.duplicates if leads else None,
        duplicate_rate=_share(t.duplicates, t.leads_stored + t.duplicates) if leads else None,
        leads_processed=t.processed if leads else None,
        leads_contacted=contacted if leads else None,
        contact_rate=_share(contacted, t.processed) if leads else None,
        attempts=t.attempts,
        answered_attempts=t.answered,
        answer_rate=_share(t.answered, t.attempts),
        conversations=conversations,
        attempts_per_lead=_share(t.lead_attempts, t.processed) if leads else None,
        leads_fake=t.fake if leads else None,
        fake_rate=_share(t.fake, contacted) if leads else None,
        leads_confirmed=t.confirmed,
        confirmation_rate=_share(t.confirmed, settled) if leads or applies.operator_leads else None,
        revenue=revenue,
        average_check=round(revenue / t.confirmed, 2) if t.confirmed else None,
        speed_to_lead_median_s=statistics.median(speeds) if speeds else None,
        speed_to_lead_p90_s=nearest_rank(speeds, 0.9, ordered=True) if leads else None,
        speed_to_lead_within_target=_share(t.within_target, len(t.speeds)) if leads else None,
        aht_s=aht,
        aht_forecast_ratio=rates.aht_forecast_s / aht if aht and rates.aht_forecast_s else None,
        fcr=_share(t.first_conversation_settled, contacted)
        if leads
        else _share(t.first_conversation_settled, t.first_conversations)
        if applies.operator_leads
        else None,
        staffed_hours=staffed_hours if staff else None,
        paused_s=sum(t.paused_s_by_reason.values()) if staff else None,
        billed_minutes=billed_minutes,
        cost=round(cost, 2) if cost is not None else None,
        cost_per_contact=round(cost / conversations, 2)
        if cost is not None and conversations
        else None,
        # a machine we hung up on counts as an abandoned call (as Ofcom counts them)
        abandoned_attempts=t.abandoned + t.machines,
        abandon_rate=_share(t.abandoned + t.machines, t.paced_answered + t.machines),
        machine_attempts=t.machines,
        machine_share=_share(t.machines, t.answered + t.machines),
        nps=score.nps(t.nps_answers),
        nps_answers=t.nps_answers.total(),
        csat=score.csat(t.csat_answers),
        csat_answers=t.csat_answers.total(),
        surveys_unanswered=t.surveys_unanswered,
        dead_air_median_s=statistics.median(t.dead_air) if t.dead_air else None,
        dead_air_p95_s=nearest_rank(t.dead_air, 0.95),
        inbound_offered=t.inbound_offered if inbound else None,
        inbound_answered_in_target=t.inbound_in_target if inbound else None,
        service_level=_share(t.inbound_in_target, t.inbound_offered) if inbound else None,
        inbound_abandoned=t.inbound_abandoned if inbound else None,
        occupancy=_share(t.talk_s + t.wrapup_s, t.logged_in_s) if staff else None,
        repeat_customers=t.repeat_customers,
        repeat_customer_rate=_share(t.repeat_customers, t.confirmed),
        upsells=t.upsells,
        upsell_rate=_share(t.upsells, t.confirmed),
        outcomes=dict(sorted(t.outcomes.items())),
        paused_s_by_reason=dict(sorted(t.paused_s_by_reason.items())) if staff else {},
    )


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def nearest_rank(values: list[float], q: float, *, ordered: bool = False) -> float | None:
    """The nearest-rank percentile: a value that occurred, as a person would read it."""
    if not values:
        return None
    ordered_values = values if ordered else sorted(values)
    return ordered_values[max(0, math.ceil(q * len(ordered_values)) - 1)]
