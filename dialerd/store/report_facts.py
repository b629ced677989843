"""Read-only SQL behind the reports: additive counts per 15-minute bucket and dimension.

Every read is by ``bucket`` (epoch // 900) so that the caller can fold buckets into
local dates and hours of any time zone (offsets are multiples of 15 minutes) without
SQLite knowing about zones, and by the dimensions a breakdown may ask for (campaign,
operator, queue). Lead outcomes belong to the lead's arrival (a cohort: what became of
the leads that arrived in the period); call work belongs to when the call was made.

The counts come from the rollup tables that triggers keep (migration 0008: the rules
are written there once, per row, as the rows are written), so a month of a million
attempts is a read of a few thousand rows. Periods are whole buckets.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.store.db import Database

BUCKET_S = 900

_BUCKETS = f"bucket >= CAST(? / {BUCKET_S} AS INTEGER) AND bucket < CAST(? / {BUCKET_S} AS INTEGER)"


@dataclass(frozen=True)
class LeadFacts:
    bucket: int
    campaign: str
    stored: int
    processed: int  # ≥ 1 attempt
    contacted: int  # ≥ 1 conversation
    attempts: int  # all attempts of these leads, whenever made
    fake: int  # marked fake by an operator
    duplicate: int  # marked duplicate by an operator
    first_conversation_settled: int  # confirmed or refused on the first conversation


async def lead_facts(db: Database, start: float, end: float) -> list[LeadFacts]:
    rows = await db.conn.execute_fetchall(
        "SELECT bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked,"
        f" first_settled FROM report_leads WHERE {_BUCKETS}",
        (start, end),
    )
    return [LeadFacts(*(row[:2]), *(int(v or 0) for v in row[2:])) for row in rows]


@dataclass(frozen=True)
class SpeedFact:
    """One lead's first dial, for speed to lead (a distribution: not additive)."""

    campaign: str
    received_at: float
    first_attempt_at: float
    deadline_at: float


async def speed_facts(db: Database, start: float, end: float) -> list[SpeedFact]:
    rows = await db.conn.execute_fetchall(
        "SELECT campaign, received_at, first_attempt_at, deadline_at FROM leads"
        " WHERE received_at >= ? AND received_at < ? AND first_attempt_at IS NOT NULL"
        " AND deadline_at IS NOT NULL",
        (start, end),
    )
    return [SpeedFact(*row) for row in rows]


async def duplicate_facts(db: Database, start: float, end: float) -> list[tuple[int, str, int]]:
    """(bucket, campaign, duplicates refused at intake)."""
    rows = await db.conn.execute_fetchall(
        f"SELECT CAST(received_at / {BUCKET_S} AS INTEGER) AS bucket, campaign, COUNT(*)"
        " FROM duplicates WHERE received_at >= ? AND received_at < ? GROUP BY bucket, campaign",
        (start, end),
    )
    return [(int(b), str(c), int(n)) for b, c, n in rows]


@dataclass(frozen=True)
class ConfirmedFacts:
    bucket: int  # the lead's arrival
    campaign: str
    operator: str | None
    confirmed: int
    revenue_minor: int
    upsells: int
    repeat_customers: int  # the phone had an earlier confirmed order


async def confirmed_facts(db: Database, start: float, end: float) -> list[ConfirmedFacts]:
    rows = await db.conn.execute_fetchall(
        "SELECT bucket, campaign, operator, confirmed, revenue_minor, upsells, repeat_customers"
        f" FROM report_confirmed WHERE {_BUCKETS}",
        (start, end),
    )
    return [
        ConfirmedFacts(b, c, o or None, *(int(v or 0) for v in rest)) for b, c, o, *rest in rows
    ]


OUTCOMES: tuple[str, ...] = (
    "answered",
    "abandoned",
    "busy",
    "no_answer",
    "congestion",
    "failed",
    "unknown",
)


BILLING_INCREMENTS = (1, 6, 10, 30, 60)  # the rollup keeps billed seconds for each
# The rollup's index of late operators holds delays over this; a shorter abandon threshold
# reads the attempts themselves.
LATE_INDEXED_S = 0.5


@dataclass(frozen=True)
class CallFacts:
    bucket: int
    campaign: str
    operator: str | None
    attempts: int
    answered: int  # the customer answered (conversation or abandoned)
    talk_s: float  # conversations only
    wrapup_s: float  # conversations only
    billed_s: float  # answered calls, rounded up to the billing increment
    paced_answered: int  # customer_first/predictive: answered customers
    # of those, left with no operator (the engine's 'abandoned': no AgentConnect) or one
    # who came later than the campaign's abandon.after_s (2 s) after the answer
    abandoned: int
    outcomes: dict[str, int]

    @property
    def conversations(self) -> int:
        return self.outcomes.get("answered", 0)


async def call_facts(
    db: Database,
    start: float,
    end: float,
    *,
    billing_increment_s: int,
    abandon_after_s: dict[str, float],
) -> list[CallFacts]:
    """``abandon_after_s``: per campaign, how late an operator may come (campaign.abandon)."""
    if billing_increment_s not in BILLING_INCREMENTS:
        raise ValueError(f"billing increment: one of {BILLING_INCREMENTS} seconds")
    outcomes = ", ".join(f"o_{name}" for name in OUTCOMES)
    rows = await db.conn.execute_fetchall(
        "SELECT bucket, campaign, operator, attempts, answered, talk_s, wrapup_s,"
        f" billed_{billing_increment_s}, paced_answered, abandoned, {outcomes}"
        f" FROM report_calls WHERE {_BUCKETS}",
        (start, end),
    )
    late = await _late_operators(db, start, end, abandon_after_s)
    facts = []
    for row in rows:
        bucket, campaign, operator, attempts, answered, talk, wrap, billed, paced, abandoned = row[
            :10
        ]
        outcomes_found = {name: int(n) for name, n in zip(OUTCOMES, row[10:], strict=True) if n}
        if not attempts and not outcomes_found:
            continue  # a key whose calls were all moved elsewhere
        facts.append(
            CallFacts(
                int(bucket),
                str(campaign),
                operator or None,
                int(attempts),
                int(answered),
                float(talk),
                float(wrap),
                float(billed),
                int(paced),
                int(abandoned) + late.get((int(bucket), str(campaign), str(operator)), 0),
                outcomes_found,
            )
        )
    return facts


async def _late_operators(
    db: Database, start: float, end: float, after_s: dict[str, float]
) -> dict[tuple[int, str, str], int]:
    """Conversations whose operator came later than the campaign allows: abandoned too."""
    pairs = [value for item in after_s.items() for value in item]
    threshold = "CASE campaign " + "WHEN ? THEN ? " * len(after_s) + "ELSE 2.0 END"
    indexed = min(after_s.values(), default=2.0) > LATE_INDEXED_S
    rows = await db.conn.execute_fetchall(
        f"SELECT CAST(created_at / {BUCKET_S} AS INTEGER), campaign, COALESCE(operator, ''),"
        " COUNT(*) FROM attempts"
        " WHERE outcome = 'answered' AND mode IN ('customer_first', 'predictive')"
        + (f" AND operator_at - answered_at > {LATE_INDEXED_S}" if indexed else "")
        + f" AND operator_at - answered_at > {threshold}"
        f" AND created_at >= CAST(? / {BUCKET_S} AS INTEGER) * {BUCKET_S}"
        f" AND created_at < CAST(? / {BUCKET_S} AS INTEGER) * {BUCKET_S}"
        " GROUP BY 1, 2, 3",
        (*pairs, start, end),
    )
    return {(int(b), str(c), str(o)): int(n) for b, c, o, n in rows}


@dataclass(frozen=True)
class OperatorSpan:
    operator: str
    state: str
    start: float
    end: float


async def operator_spans(db: Database, start: float, end: float, now: float) -> list[OperatorSpan]:
    """Operators' states overlapping [start, end), clipped to it; a current state ends now."""
    rows = await db.conn.execute_fetchall(
        "SELECT operator, state, started_at, COALESCE(ended_at, MAX(seen_until, ?))"
        " FROM operator_states WHERE started_at < ? AND COALESCE(ended_at, ?) > ?",
        (now, end, now, start),
    )
    spans = []
    for operator, state, began, ended in rows:
        lo, hi = max(float(began), start), min(float(ended), end)
        if hi > lo:
            spans.append(OperatorSpan(str(operator), str(state), lo, hi))
    return spans


@dataclass(frozen=True)
class InboundFacts:
    bucket: int
    queue: str
    offered: int
    answered_in_target: int
    abandoned: int


async def inbound_facts(
    db: Database, start: float, end: float, *, answer_within_s: float
) -> list[InboundFacts]:
    rows = await db.conn.execute_fetchall(
        f"SELECT CAST(joined_at / {BUCKET_S} AS INTEGER) AS bucket, queue, COUNT(*),"
        " SUM(outcome = 'answered' AND wait_s <= ?), SUM(outcome = 'abandoned')"
        " FROM inbound_calls WHERE joined_at >= ? AND joined_at < ? GROUP BY bucket, queue",
        (answer_within_s, start, end),
    )
    return [
        InboundFacts(int(b), str(q), int(n), int(a or 0), int(x or 0)) for b, q, n, a, x in rows
    ]
