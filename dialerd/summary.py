"""The numbers of a period, with DESIGN.md §4's definitions (one definition everywhere).

Read-only SQL over the store plus the calling window for speed to lead; the demo's
closing report uses it, and so can any later report.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dialerd.policy.window import CallingWindow, clock_start
from dialerd.store.db import Database


@dataclass(frozen=True)
class Summary:
    period_start: float
    period_end: float
    leads_received: int  # stored leads + rejected duplicates
    duplicates: int
    leads_processed: int  # leads with at least one attempt
    leads_contacted: int  # leads with at least one answered attempt
    attempts: int
    answered_attempts: int
    outcomes: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0
    revenue_minor: int = 0
    speed_to_lead_median_s: float | None = None
    speed_to_lead_p90_s: float | None = None
    speed_to_lead_within_target: float | None = None  # share of first attempts by the deadline

    @property
    def duplicate_rate(self) -> float | None:
        return _ratio(self.duplicates, self.leads_received)

    @property
    def contact_rate(self) -> float | None:
        return _ratio(self.leads_contacted, self.leads_processed)

    @property
    def answer_rate(self) -> float | None:
        return _ratio(self.answered_attempts, self.attempts)

    @property
    def average_check_minor(self) -> float | None:
        return self.revenue_minor / self.confirmed if self.confirmed else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def summarize(db: Database, start: float, end: float, window: CallingWindow) -> Summary:
    """Leads received in [start, end) and what became of them (attempts up to now)."""
    conn = db.conn
    period = (start, end)
    (stored,) = await _one(
        db, "SELECT COUNT(*) FROM leads WHERE received_at >= ? AND received_at < ?", period
    )
    (duplicates,) = await _one(
        db, "SELECT COUNT(*) FROM duplicates WHERE received_at >= ? AND received_at < ?", period
    )
    in_period = "SELECT id FROM leads WHERE received_at >= ? AND received_at < ?"
    rows = await conn.execute_fetchall(
        f"SELECT outcome, COUNT(*) FROM attempts WHERE lead_id IN ({in_period}) AND status = 'done'"
        " GROUP BY outcome",
        period,
    )
    outcomes = {str(outcome): int(count) for outcome, count in rows}
    (processed,) = await _one(
        db, f"SELECT COUNT(DISTINCT lead_id) FROM attempts WHERE lead_id IN ({in_period})", period
    )
    (contacted,) = await _one(
        db,
        f"SELECT COUNT(DISTINCT lead_id) FROM attempts WHERE lead_id IN ({in_period}) AND outcome = 'answered'",
        period,
    )
    confirmed, revenue = await _one(
        db,
        f"SELECT COUNT(*), COALESCE(SUM(amount_minor), 0) FROM dispositions"
        f" WHERE lead_id IN ({in_period}) AND result = 'confirmed'",
        period,
    )
    firsts = await conn.execute_fetchall(
        "SELECT received_at, first_attempt_at, deadline_at FROM leads"
        " WHERE received_at >= ? AND received_at < ? AND first_attempt_at IS NOT NULL"
        " AND deadline_at IS NOT NULL",
        period,
    )
    speeds = [
        first - clock_start(datetime.fromtimestamp(received, UTC), window).timestamp()
        for received, first, _deadline in firsts
    ]
    within = sum(1 for _r, first, deadline in firsts if first <= deadline)
    return Summary(
        period_start=start,
        period_end=end,
        leads_received=stored + duplicates,
        duplicates=duplicates,
        leads_processed=processed,
        leads_contacted=contacted,
        attempts=sum(outcomes.values()),
        answered_attempts=outcomes.get("answered", 0),
        outcomes=outcomes,
        confirmed=confirmed,
        revenue_minor=revenue,
        speed_to_lead_median_s=statistics.median(speeds) if speeds else None,
        speed_to_lead_p90_s=_p90(speeds),
        speed_to_lead_within_target=_ratio(within, len(firsts)),
    )


def _p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


async def _one(db: Database, sql: str, args: tuple[float, float]) -> tuple[int, ...]:
    rows = await db.conn.execute_fetchall(sql, args)
    return tuple(int(value or 0) for value in rows[0])
