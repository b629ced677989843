"""Read-only SQL behind the reports: additive counts per 15-minute bucket and dimension.

Counts are read grouped by the dimensions a breakdown needs (``Dims``): the bucket
(epoch // 900, which the caller folds into local dates and hours of any time zone, their
offsets being multiples of 15 minutes), the campaign, the operator. Lead outcomes belong
to the lead's arrival (a cohort: what became of the leads that arrived in the period);
call work belongs to when the call was made.

The counts come from the rollup tables that triggers keep (migration 0008, where the
rules are written once, per row, as the rows are written), so a month of a million
attempts is summed by SQLite over a few ten thousand rows. Periods are whole buckets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from dialerd.store.db import Database

BUCKET_S = 900
# The dimensions a read can be grouped by, in this order; a missing one reads as None.
DIMENSIONS = ("bucket", "campaign", "operator")
Dims = tuple[str, ...]
# The outcomes report_calls counts in its o_<outcome> columns (migration 0008) ...
ROLLED_OUTCOMES: tuple[str, ...] = (
    "answered",
    "abandoned",
    "busy",
    "no_answer",
    "congestion",
    "failed",
    "unknown",
)
# ... and every outcome a report shows: 'machine' is counted by report_machines (0014).
OUTCOMES: tuple[str, ...] = (*ROLLED_OUTCOMES, "machine")
BILLING_INCREMENTS = (1, 6, 10, 30, 60)  # the rollup keeps billed seconds for each
# The index of late operators holds delays over this; a shorter threshold reads the attempts.
LATE_INDEXED_S = 1.0

_IN_PERIOD = (
    f"bucket >= CAST(? / {BUCKET_S} AS INTEGER) AND bucket < CAST(? / {BUCKET_S} AS INTEGER)"
)


@dataclass(frozen=True)
class Key:
    bucket: int | None = None
    campaign: str | None = None
    operator: str | None = None  # None: no operator, or not grouped by operator


def _grouping(dims: Dims, available: Dims) -> tuple[str, str]:
    """The key columns (NULL where not grouped) and the GROUP BY clause."""
    for dim in dims:
        if dim not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dim!r}")
    used = [dim for dim in DIMENSIONS if dim in dims and dim in available]
    columns = ", ".join(dim if dim in used else "NULL" for dim in DIMENSIONS)
    return columns, (" GROUP BY " + ", ".join(used)) if used else ""


def _key(bucket: int | None, campaign: str | None, operator: str | None) -> Key:
    return Key(None if bucket is None else int(bucket), campaign, operator or None)


@dataclass(frozen=True)
class LeadFacts:
    key: Key
    stored: int
    processed: int  # ≥ 1 attempt
    contacted: int  # ≥ 1 conversation
    attempts: int  # all attempts of these leads, whenever made
    fake: int  # marked fake by an operator
    duplicate: int  # marked duplicate by an operator
    first_conversation_settled: int  # confirmed or refused on the first conversation


async def lead_facts(db: Database, start: float, end: float, dims: Dims) -> list[LeadFacts]:
    columns, group = _grouping(dims, ("bucket", "campaign"))
    rows = await db.conn.execute_fetchall(
        f"SELECT {columns}, SUM(stored), SUM(processed), SUM(contacted), SUM(attempts),"
        " SUM(fake), SUM(duplicate_marked), SUM(first_settled)"
        f" FROM report_leads WHERE {_IN_PERIOD}{group}",
        (start, end),
    )
    return [
        LeadFacts(_key(*row[:3]), *(int(v or 0) for v in row[3:]))
        for row in rows
        if row[3] is not None
    ]


async def duplicate_facts(db: Database, start: float, end: float) -> list[tuple[Key, int]]:
    """Duplicates refused at intake, by bucket and campaign (a few thousand rows a month)."""
    rows = await db.conn.execute_fetchall(
        f"SELECT CAST(received_at / {BUCKET_S} AS INTEGER) AS bucket, campaign, COUNT(*)"
        " FROM duplicates WHERE received_at >= ? AND received_at < ? GROUP BY bucket, campaign",
        (start, end),
    )
    return [(Key(int(b), str(c)), int(n)) for b, c, n in rows]


@dataclass(frozen=True)
class SpeedFacts:
    """Dialed new leads of one arrival bucket and campaign: ``values`` are first dial minus
    the moment their speed-to-lead clock started."""

    key: Key
    values: list[float]
    within_target: int  # dialed by their deadline


async def speed_facts(
    db: Database, start: float, end: float, closed: list[tuple[float, float, float]]
) -> list[SpeedFacts]:
    """Speed to lead is a distribution, so it is read lead by lead; each bucket's values
    come as one text (``group_concat``), which is several times cheaper than a row each.

    ``closed`` are the window's closed stretches ``(lo, hi, opens)``, sorted and apart: a
    lead that arrived in one has its clock start at ``opens``, any other at its arrival.
    They go into a TEMP table on this connection (private to it, never in the store's
    file), looked up by index per lead, so the statement is the same size for a day or ten
    years (one ``OR`` per day grew past SQLite's expression depth at about 1,000 days).
    """
    await db.conn.execute("DROP TABLE IF EXISTS temp.report_closed")
    await db.conn.execute(
        "CREATE TEMP TABLE report_closed (lo REAL PRIMARY KEY, hi REAL NOT NULL, opens REAL NOT NULL)"
    )
    try:
        await db.conn.executemany("INSERT INTO temp.report_closed VALUES (?, ?, ?)", closed)
        rows = await db.conn.execute_fetchall(
            f"SELECT CAST(received_at / {BUCKET_S} AS INTEGER) AS bucket, campaign,"
            " group_concat(first_attempt_at - IFNULL((SELECT CASE WHEN c.hi > l.received_at"
            " THEN c.opens END FROM temp.report_closed AS c WHERE c.lo <= l.received_at"
            " ORDER BY c.lo DESC LIMIT 1), received_at)),"
            " SUM(first_attempt_at <= deadline_at) FROM leads AS l"
            " WHERE received_at >= ? AND received_at < ?"
            " AND first_attempt_at IS NOT NULL AND deadline_at IS NOT NULL"
            " GROUP BY bucket, campaign",
            (start, end),
        )
    finally:
        await db.conn.execute("DROP TABLE IF EXISTS temp.report_closed")
    return [
        SpeedFacts(Key(int(b), str(c)), [float(v) for v in text.split(",")], int(n or 0))
        for b, c, text, n in rows
    ]


@dataclass(frozen=True)
class DeadAirFacts:
    """Answered customer-first calls of one bucket (the attempt's start), campaign and
    operator: ``values`` are the seconds from the customer's answer to the operator's
    arrival (AgentConnect), the silence or ringing the customer sat through."""

    key: Key
    values: list[float]


async def dead_air_facts(db: Database, start: float, end: float) -> list[DeadAirFacts]:
    """A distribution, read call by call like speed to lead (one text per group)."""
    rows = await db.conn.execute_fetchall(
        f"SELECT CAST(created_at / {BUCKET_S} AS INTEGER) AS bucket, campaign, operator,"
        " group_concat(MAX(0.0, operator_at - answered_at)) FROM attempts"
        " WHERE created_at >= ? AND created_at < ? AND mode != 'agent_first'"
        " AND answered_at IS NOT NULL AND operator_at IS NOT NULL"
        " GROUP BY bucket, campaign, operator",
        (start, end),
    )
    return [
        DeadAirFacts(_key(b, c, o), [float(v) for v in text.split(",")]) for b, c, o, text in rows
    ]


@dataclass(frozen=True)
class CallerIdFacts:
    """A campaign's finished attempts that showed one caller ID number, and how many the
    customer answered."""

    campaign: str
    caller_id: str
    attempts: int
    answered: int


async def caller_id_facts(db: Database, start: float, end: float) -> list[CallerIdFacts]:
    rows = await db.conn.execute_fetchall(
        "SELECT campaign, caller_id, COUNT(*), SUM(answered_at IS NOT NULL) FROM attempts"
        " WHERE created_at >= ? AND created_at < ? AND caller_id IS NOT NULL"
        " AND status = 'done' GROUP BY campaign, caller_id ORDER BY campaign, caller_id",
        (start, end),
    )
    return [CallerIdFacts(str(c), str(n), int(a), int(b or 0)) for c, n, a, b in rows]


@dataclass(frozen=True)
class OperatorLeadFacts:
    """The leads that arrived in the period, as one operator met them: talked to (an
    answered call of theirs), of those marked fake or duplicate on their calls, and those
    whose first conversation was theirs, and of those, settled on it (confirmed or refused)."""

    operator: str
    contacted: int
    fake: int
    duplicate: int
    first_conversations: int
    first_settled: int


async def operator_lead_facts(db: Database, start: float, end: float) -> list[OperatorLeadFacts]:
    """Read from the rows (no rollup has an operator per lead): conversations are a small
    share of attempts, and both queries walk the period's leads by their index."""
    talked = await db.conn.execute_fetchall(
        "SELECT a.operator, COUNT(DISTINCT a.lead_id),"
        " COUNT(DISTINCT CASE WHEN d.result = 'fake' THEN a.lead_id END),"
        " COUNT(DISTINCT CASE WHEN d.result = 'duplicate' THEN a.lead_id END)"
        " FROM leads AS l JOIN attempts AS a ON a.lead_id = l.id"
        " LEFT JOIN dispositions AS d ON d.attempt_id = a.id"
        " WHERE l.received_at >= ? AND l.received_at < ? AND a.outcome = 'answered'"
        " AND a.operator IS NOT NULL GROUP BY a.operator",
        (start, end),
    )
    first = await db.conn.execute_fetchall(
        "SELECT a.operator, COUNT(*), SUM(COALESCE(d.result IN ('confirmed', 'refused'), 0))"
        " FROM leads AS l JOIN attempts AS a ON a.id = (SELECT b.id FROM attempts AS b"
        " WHERE b.lead_id = l.id AND b.outcome = 'answered' ORDER BY b.number LIMIT 1)"
        " LEFT JOIN dispositions AS d ON d.attempt_id = a.id"
        " WHERE l.received_at >= ? AND l.received_at < ? AND a.operator IS NOT NULL"
        " GROUP BY a.operator",
        (start, end),
    )
    firsts = {str(op): (int(n), int(settled or 0)) for op, n, settled in first}
    return [
        OperatorLeadFacts(str(op), int(n), int(fake), int(dup), *firsts.get(str(op), (0, 0)))
        for op, n, fake, dup in talked
    ]


@dataclass(frozen=True)
class ConfirmedFacts:
    key: Key  # bucket: the lead's arrival; operator: who confirmed
    confirmed: int
    revenue_minor: int
    upsells: int
    repeat_customers: int  # the phone had an earlier confirmed order


async def confirmed_facts(
    db: Database, start: float, end: float, dims: Dims
) -> list[ConfirmedFacts]:
    columns, group = _grouping(dims, DIMENSIONS)
    rows = await db.conn.execute_fetchall(
        f"SELECT {columns}, SUM(confirmed), SUM(revenue_minor), SUM(upsells),"
        f" SUM(repeat_customers) FROM report_confirmed WHERE {_IN_PERIOD}{group}",
        (start, end),
    )
    return [
        ConfirmedFacts(_key(*row[:3]), *(int(v or 0) for v in row[3:]))
        for row in rows
        if row[3] is not None
    ]


@dataclass(frozen=True)
class CallFacts:
    key: Key
    attempts: int
    answered: int  # the customer answered (conversation or abandoned)
    talk_s: float  # conversations only
    wrapup_s: float  # conversations only
    billed_s: float  # answered calls and machines, rounded up to the billing increment
    paced_answered: int  # customer_first/predictive: answered customers
    # of those, left with no operator (the engine's 'abandoned': no AgentConnect) or one
    # who came later than the campaign's abandon.after_s (2 s) after the answer
    abandoned: int
    outcomes: dict[str, int]
    machines: int = 0  # answered by a machine (AMD) and dropped: outcome 'machine'


async def call_facts(
    db: Database,
    start: float,
    end: float,
    dims: Dims,
    *,
    billing_increment_s: int,
    late: dict[Key, int],
) -> list[CallFacts]:
    """``late``: conversations with a late operator (``late_operators``), abandoned too."""
    if billing_increment_s not in BILLING_INCREMENTS:
        raise ValueError(f"billing increment: one of {BILLING_INCREMENTS} seconds")
    columns, group = _grouping(dims, DIMENSIONS)
    sums = ", ".join(
        f"SUM({name})"
        for name in (
            "attempts",
            "answered",
            "talk_s",
            "wrapup_s",
            f"billed_{billing_increment_s}",
            "paced_answered",
            "abandoned",
            *(f"o_{outcome}" for outcome in ROLLED_OUTCOMES),
        )
    )
    rows = await db.conn.execute_fetchall(
        f"SELECT {columns}, {sums} FROM report_calls WHERE {_IN_PERIOD}{group}", (start, end)
    )
    late_here: dict[Key, int] = defaultdict(int)
    for key, count in late.items():
        late_here[_projected(key, dims)] += count
    machines_here = {  # machines, and their talk time as billed
        _key(*row[:3]): (int(row[3]), float(row[4]))
        for row in await db.conn.execute_fetchall(
            f"SELECT {columns}, SUM(machines), SUM(billed_{billing_increment_s})"
            f" FROM report_machines WHERE {_IN_PERIOD}{group}",
            (start, end),
        )
        if row[3]
    }
    facts = []
    for row in rows:
        if not row[3]:
            continue  # no rows, or a key whose calls all moved elsewhere
        key = _key(*row[:3])
        attempts, answered, talk, wrap, billed, paced, abandoned = row[3:10]
        machines, machine_billed = machines_here.get(key, (0, 0.0))
        facts.append(
            CallFacts(
                key,
                int(attempts),
                int(answered),
                float(talk),
                float(wrap),
                float(billed) + machine_billed,
                int(paced),
                int(abandoned) + late_here.get(key, 0),
                {name: int(n) for name, n in zip(ROLLED_OUTCOMES, row[10:], strict=True) if n}
                | ({"machine": machines} if machines else {}),
                machines,
            )
        )
    return facts


@dataclass(frozen=True)
class ScoreFacts:
    """Post-call survey answers (``survey_answers``) of one key, by the value keyed."""

    key: Key
    nps: dict[int, int]  # answer (0-10) → how many
    csat: dict[int, int]  # answer (1-5) → how many
    unanswered: int  # surveys that ended without a digit


async def score_facts(db: Database, start: float, end: float, dims: Dims) -> list[ScoreFacts]:
    """Survey answers by the 15 minutes the survey ended in, campaign and operator."""
    columns, group = _grouping(dims, DIMENSIONS)
    columns = columns.replace("bucket", f"CAST(at / {BUCKET_S} AS INTEGER)")
    group = group.replace("bucket", f"CAST(at / {BUCKET_S} AS INTEGER)")
    extra = ", nps, csat, answered"
    group = (group + extra) if group else f" GROUP BY {extra[2:]}"
    rows = await db.conn.execute_fetchall(
        f"SELECT {columns}, nps, csat, answered, COUNT(*) FROM survey_answers"
        f" WHERE at >= ? AND at < ?{group}",
        (start, end),
    )
    found: dict[Key, ScoreFacts] = {}
    for row in rows:
        key = _key(*row[:3])
        scores = found.setdefault(key, ScoreFacts(key, {}, {}, 0))
        nps, csat, answered, n = row[3], row[4], row[5], int(row[6])
        if not answered:
            found[key] = ScoreFacts(key, scores.nps, scores.csat, scores.unanswered + n)
            continue
        if nps is not None:
            scores.nps[int(nps)] = scores.nps.get(int(nps), 0) + n
        if csat is not None:
            scores.csat[int(csat)] = scores.csat.get(int(csat), 0) + n
    return list(found.values())


def _projected(key: Key, dims: Dims) -> Key:
    return Key(
        key.bucket if "bucket" in dims else None,
        key.campaign if "campaign" in dims else None,
        key.operator if "operator" in dims else None,
    )


async def late_operators(
    db: Database, start: float, end: float, *, abandon_after_s: dict[str, float]
) -> dict[Key, int]:
    """Conversations whose operator came later than the campaign's ``abandon.after_s``
    allows, by bucket, campaign and operator: they count as abandoned too. Few rows, found
    by a partial index (migration 0008) when every threshold is above ``LATE_INDEXED_S``."""
    pairs = [value for item in abandon_after_s.items() for value in item]
    threshold = "CASE campaign " + "WHEN ? THEN ? " * len(abandon_after_s) + "ELSE 2.0 END"
    indexed = min(abandon_after_s.values(), default=2.0) > LATE_INDEXED_S
    rows = await db.conn.execute_fetchall(
        f"SELECT CAST(created_at / {BUCKET_S} AS INTEGER), campaign, operator, COUNT(*)"
        " FROM attempts WHERE outcome = 'answered' AND mode IN ('customer_first', 'predictive')"
        + (f" AND operator_at - answered_at > {LATE_INDEXED_S}" if indexed else "")
        + f" AND operator_at - answered_at > {threshold}"
        f" AND created_at >= CAST(? / {BUCKET_S} AS INTEGER) * {BUCKET_S}"
        f" AND created_at < CAST(? / {BUCKET_S} AS INTEGER) * {BUCKET_S}"
        " GROUP BY 1, 2, 3",
        (*pairs, start, end),
    )
    return {_key(*row[:3]): int(row[3]) for row in rows}


async def staff_seconds(
    db: Database, start: float, end: float, dims: Dims
) -> list[tuple[Key, float, float]]:
    """(key, logged-in s, free s) of the operators' closed states, from the rollup."""
    columns, group = _grouping(dims, ("bucket", "operator"))
    rows = await db.conn.execute_fetchall(
        f"SELECT {columns}, SUM(logged_in_s), SUM(free_s) FROM report_staff"
        f" WHERE {_IN_PERIOD}{group}",
        (start, end),
    )
    return [(_key(*row[:3]), float(row[3]), float(row[4])) for row in rows if row[3] is not None]


async def pause_seconds(db: Database, start: float, end: float) -> list[tuple[Key, str, float]]:
    """(key by bucket and operator, reason ('' none), paused s) of the operators' closed
    pauses, from the rollup (migration 0010): few rows, pauses being rare."""
    rows = await db.conn.execute_fetchall(
        "SELECT bucket, operator, reason, SUM(paused_s) FROM report_pauses"
        f" WHERE {_IN_PERIOD} GROUP BY bucket, operator, reason",
        (start, end),
    )
    return [(_key(b, None, o), str(r), float(s)) for b, o, r, s in rows if s]


@dataclass(frozen=True)
class OpenState:
    """An operator's current state clipped to a period: it ends now, or where a stopped
    daemon last saw it."""

    operator: str
    state: str
    start: float
    end: float
    reason: str | None  # a pause's reason (issue 12)


async def open_states(db: Database, start: float, end: float, now: float) -> list[OpenState]:
    """The operators' current states, clipped to [start, end)."""
    rows = await db.conn.execute_fetchall(
        "SELECT operator, state, MAX(started_at, ?), MIN(MAX(seen_until, ?), ?), reason"
        " FROM operator_states WHERE ended_at IS NULL",
        (start, now, end),
    )
    return [OpenState(*row) for row in rows if row[3] > row[2]]


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
