"""Calls read back: those still in flight (adopted at start), the pacing windows of a
campaign (issue 4), and each operator's calls of the day. The writes of a call's attempt
are in ``attempts.py``."""

from __future__ import annotations

from dataclasses import dataclass

from dialerd.policy.abandon import AbandonStats
from dialerd.policy.pacing import AnswerStats
from dialerd.store import sql
from dialerd.store.sql import Sql, Store

CUSTOMER_FIRST_MODES = ("customer_first", "predictive")


@dataclass(frozen=True)
class InFlightCall:
    """An attempt still 'dialing', with what is needed to follow it after a restart."""

    attempt_id: int
    lead_id: int
    number: int
    call_id: str
    campaign: str
    mode: str
    operator: str | None
    created_at: float
    originated_at: float | None
    answered_at: float | None  # the customer answered (written while the call was live)
    pbx: str = ""  # the PBX carrying it ('' written before several PBXs: the first one)


@dataclass(frozen=True)
class OperatorDay:
    """One operator's dialer calls since a moment (``dialerd operators``: today)."""

    calls: int
    answered: int
    talk_s: float


_IN_FLIGHT = (
    "SELECT id, lead_id, number, call_id, campaign, mode, operator, created_at, originated_at,"
    " answered_at, pbx FROM attempts WHERE status = 'dialing'"
)


async def in_flight_calls(db: Store, daemon_id: str | None = None) -> list[InFlightCall]:
    """Attempts left 'dialing' (by a previous run, or now), oldest first.

    ``daemon_id`` (a PostgreSQL store shared by several daemons): only the attempts that
    daemon holds the lease of; the others' calls are theirs to follow.
    """
    if daemon_id is None:
        rows = await sql.rows(db.conn, _IN_FLIGHT + " ORDER BY id")
    else:
        rows = await sql.rows(
            db.conn,
            _IN_FLIGHT + " AND id IN (SELECT attempt_id FROM leases WHERE daemon_id = ?)"
            " ORDER BY id",
            (daemon_id,),
        )
    return [InFlightCall(*tuple(row)) for row in rows]


@dataclass(frozen=True)
class CallFiles:
    """What the API and the console serve of a known call: its recording, its operator."""

    recording_path: str | None
    operator: str | None


async def call_files(db: Store, call_id: str) -> CallFiles | None:
    """The attempt of ``call_id``, or None: no such call."""
    found = await sql.row(
        db.conn, "SELECT recording_path, operator FROM attempts WHERE call_id = ?", (call_id,)
    )
    return None if found is None else CallFiles(found[0], found[1])


_CAMPAIGN_STATS = Sql(
    sqlite="SELECT"
    "  SUM(created_at >= :window AND answered_at IS NOT NULL AND mode IN (:m1, :m2)),"
    "  SUM(created_at >= :window AND mode IN (:m1, :m2) AND (outcome IN ('abandoned', 'machine')"
    "      OR (answered_at IS NOT NULL AND operator_at - answered_at > :after))),"
    "  SUM(created_at >= :recent AND outcome IS NOT NULL AND outcome != 'unknown'),"
    "  SUM(created_at >= :recent AND answered_at IS NOT NULL)"
    " FROM attempts INDEXED BY attempts_campaign_created"
    " WHERE campaign = :campaign AND created_at >= :since AND status = 'done'",
    # a comparison is a boolean, not 0/1, in PostgreSQL: counted with FILTER
    postgresql="SELECT"
    "  COUNT(*) FILTER (WHERE created_at >= :window AND answered_at IS NOT NULL"
    "      AND mode IN (:m1, :m2)),"
    "  COUNT(*) FILTER (WHERE created_at >= :window AND mode IN (:m1, :m2)"
    "      AND (outcome IN ('abandoned', 'machine')"
    "      OR (answered_at IS NOT NULL AND operator_at - answered_at > :after))),"
    "  COUNT(*) FILTER (WHERE created_at >= :recent AND outcome IS NOT NULL"
    "      AND outcome != 'unknown'),"
    "  COUNT(*) FILTER (WHERE created_at >= :recent AND answered_at IS NOT NULL)"
    " FROM attempts"
    " WHERE campaign = :campaign AND created_at >= :since AND status = 'done'",
)


async def campaign_stats(
    db: Store,
    campaign: str,
    now: float,
    *,
    window_since: float,
    recent_s: float,
    abandon_after_s: float,
) -> tuple[AbandonStats, AnswerStats]:
    """The abandon window from ``window_since`` (epoch; ``policy.abandon.window_since``) for
    customer-first calls, and the recent answer rate (all finished calls).

    Abandoned: the customer answered and no operator came on the line within
    ``abandon_after_s`` — never at all (outcome 'abandoned') or too late; and a call an
    answering machine took that we dropped (outcome 'machine'), as Ofcom counts them.
    """
    since = min(window_since, now - recent_s)
    row = await sql.row(
        db.conn,
        _CAMPAIGN_STATS,
        {
            "campaign": campaign,
            "since": since,
            "window": window_since,
            "recent": now - recent_s,
            "after": abandon_after_s,
            "m1": CUSTOMER_FIRST_MODES[0],
            "m2": CUSTOMER_FIRST_MODES[1],
        },
    )
    answered, abandoned, attempts, recent_answered = (int(v or 0) for v in tuple(row or ()))
    return AbandonStats(answered, abandoned), AnswerStats(attempts, recent_answered)


async def operator_day(db: Store, since: float) -> dict[str, OperatorDay]:
    """Per operator: dialer calls since ``since``, how many were answered, talk time."""
    rows = await sql.rows(
        db.conn,
        Sql(
            sqlite="SELECT operator, COUNT(*), SUM(outcome = 'answered'), COALESCE(SUM(talk_s), 0)"
            " FROM attempts WHERE operator IS NOT NULL AND created_at >= ? GROUP BY operator",
            postgresql="SELECT operator, COUNT(*), COUNT(*) FILTER (WHERE outcome = 'answered'),"
            " COALESCE(SUM(talk_s), 0)"
            " FROM attempts WHERE operator IS NOT NULL AND created_at >= ? GROUP BY operator",
        ),
        (since,),
    )
    return {row[0]: OperatorDay(int(row[1]), int(row[2] or 0), float(row[3])) for row in rows}
