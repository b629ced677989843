"""Read-only SQL behind the reports: additive counts per 15-minute bucket and dimension.

Every query groups by ``bucket`` (epoch // 900) so that the caller can fold buckets into
local dates and hours of any time zone (offsets are multiples of 15 minutes) without
SQLite knowing about zones, and by the dimensions a breakdown may ask for (campaign,
operator, queue). Lead outcomes belong to the lead's arrival (a cohort: what became of
the leads that arrived in the period); call work belongs to when the call was made.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.store.db import Database

BUCKET_S = 900

_LEADS = f"""
SELECT CAST(l.received_at / {BUCKET_S} AS INTEGER) AS bucket, l.campaign,
       COUNT(*),
       SUM(l.first_attempt_at IS NOT NULL),
       SUM(l.reached),
       SUM(l.attempts),
       SUM(EXISTS (SELECT 1 FROM dispositions d WHERE d.lead_id = l.id AND d.result = 'fake')),
       SUM(EXISTS (SELECT 1 FROM dispositions d WHERE d.lead_id = l.id AND d.result = 'duplicate')),
       SUM(l.reached AND (
           SELECT d.result FROM dispositions d WHERE d.attempt_id = (
               SELECT a.id FROM attempts a WHERE a.lead_id = l.id AND a.outcome = 'answered'
               ORDER BY a.number LIMIT 1)
       ) IN ('confirmed', 'refused'))
FROM leads l
WHERE l.received_at >= ? AND l.received_at < ?
GROUP BY bucket, l.campaign
"""


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
    rows = await db.conn.execute_fetchall(_LEADS, (start, end))
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


_CONFIRMED = f"""
SELECT CAST(l.received_at / {BUCKET_S} AS INTEGER) AS bucket, l.campaign, d.operator,
       COUNT(*),
       SUM(COALESCE(d.amount_minor, l.amount_minor, 0)),
       SUM(COALESCE(d.flags, '') LIKE '%"upsell"%'),
       SUM(EXISTS (
           SELECT 1 FROM leads e JOIN dispositions f ON f.lead_id = e.id
           WHERE e.phone = l.phone AND e.received_at < l.received_at AND e.id != l.id
             AND f.result = 'confirmed'))
FROM dispositions d JOIN leads l ON l.id = d.lead_id
WHERE d.result = 'confirmed' AND l.received_at >= ? AND l.received_at < ?
GROUP BY bucket, l.campaign, d.operator
"""


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
    rows = await db.conn.execute_fetchall(_CONFIRMED, (start, end))
    return [ConfirmedFacts(b, c, o, *(int(v or 0) for v in rest)) for b, c, o, *rest in rows]


OUTCOMES: tuple[str, ...] = (
    "answered",
    "abandoned",
    "busy",
    "no_answer",
    "congestion",
    "failed",
    "unknown",
)


def _calls_sql(billing_increment_s: int, campaigns: int) -> str:
    """``campaigns``: how many (name, after_s) pairs bind the abandon threshold's CASE."""
    inc = int(billing_increment_s)
    per_outcome = ",\n       ".join(f"SUM(a.outcome = '{name}')" for name in OUTCOMES)
    talked = "a.outcome IN ('answered', 'abandoned')"
    after = "CASE a.campaign " + "WHEN ? THEN ? " * campaigns + "ELSE 2.0 END"
    return f"""
SELECT CAST(a.created_at / {BUCKET_S} AS INTEGER) AS bucket, a.campaign, a.operator,
       COUNT(*),
       SUM({talked}),
       SUM(CASE WHEN a.outcome = 'answered' THEN COALESCE(a.talk_s, 0) ELSE 0 END),
       SUM(CASE WHEN a.outcome = 'answered' THEN COALESCE(
           (SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = a.id), 0) ELSE 0 END),
       SUM(CASE WHEN {talked} AND a.talk_s > 0
           THEN (CAST((a.talk_s - 0.000001) / {inc} AS INTEGER) + 1) * {inc} ELSE 0 END),
       SUM({talked} AND a.mode IN ('customer_first', 'predictive')),
       SUM(a.mode IN ('customer_first', 'predictive') AND (a.outcome = 'abandoned'
           OR (a.outcome = 'answered'
               AND a.operator_at - a.answered_at > {after}))),
       {per_outcome}
FROM attempts a
WHERE a.created_at >= ? AND a.created_at < ? AND a.status = 'done'
GROUP BY bucket, a.campaign, a.operator
"""


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
    pairs = [value for item in abandon_after_s.items() for value in item]
    rows = await db.conn.execute_fetchall(
        _calls_sql(billing_increment_s, len(abandon_after_s)), (*pairs, start, end)
    )
    facts = []
    for row in rows:
        bucket, campaign, operator, attempts, answered, talk, wrap, billed, paced, abandoned = row[
            :10
        ]
        outcomes = {name: int(n) for name, n in zip(OUTCOMES, row[10:], strict=True) if n}
        facts.append(
            CallFacts(
                int(bucket),
                str(campaign),
                operator,
                int(attempts),
                int(answered or 0),
                float(talk or 0),
                float(wrap or 0),
                float(billed or 0),
                int(paced or 0),
                int(abandoned or 0),
                outcomes,
            )
        )
    return facts


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
