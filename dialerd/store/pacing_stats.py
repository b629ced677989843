"""What a campaign's finished calls say of its next ones, for predictive pacing: answer
probability, ring times and talk times (``policy.pacing.CallProfile``).

Learned per hour of day, since answer rates and talk times follow the day (people answer
less at lunch, talk longer in the evening): the calls of the same local hour over the
last ``LOOKBACK_DAYS`` when there are ``min_samples`` of them, else all the campaign's calls
of that period, else none (the policy's priors).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from dialerd.policy.pacing import CallProfile
from dialerd.store import sql
from dialerd.store.sql import Store

LOOKBACK_DAYS = 14.0
MAX_ROWS = 3000  # the most recent finished attempts read; older ones add little


async def call_profile(
    db: Store, campaign: str, now: float, tz: tzinfo, *, min_samples: int
) -> CallProfile:
    """The campaign's ``CallProfile`` for a decision at ``now`` (``tz``: the centre's zone)."""
    found = await sql.rows(
        db.conn,
        "SELECT created_at, answered_at IS NOT NULL,"
        "  COALESCE(ring_s, answered_at - COALESCE(originated_at, created_at)),"
        "  CASE WHEN operator_at IS NOT NULL AND ended_at >= operator_at"
        "       THEN ended_at - operator_at END"
        " FROM attempts INDEXED BY attempts_campaign_created"
        " WHERE campaign = ? AND created_at >= ? AND created_at <= ? AND status = 'done'"
        "  AND outcome IS NOT NULL AND outcome != 'unknown'"
        " ORDER BY created_at DESC LIMIT ?",
        (campaign, now - LOOKBACK_DAYS * 86400.0, now, MAX_ROWS),
    )
    rows: list[_Row] = [(float(r[0]), bool(r[1]), r[2], r[3]) for r in found]
    hour = datetime.fromtimestamp(now, tz).hour
    same_hour = [row for row in rows if datetime.fromtimestamp(row[0], tz).hour == hour]
    if len(same_hour) >= min_samples:
        return _profile(same_hour, f"{hour:02d}:00-{hour:02d}:59 calls")
    if rows:
        return _profile(rows, f"last {LOOKBACK_DAYS:g} days")
    return CallProfile(0, 0)


_Row = tuple[float, bool, float | None, float | None]  # created, answered, ring, talk


def _profile(rows: list[_Row], scope: str) -> CallProfile:
    attempts = answered = 0
    ring: list[float] = []
    talk: list[float] = []
    for _, was_answered, ring_s, talk_s in rows:
        attempts += 1
        if was_answered:
            answered += 1
            if ring_s is not None and ring_s >= 0:
                ring.append(float(ring_s))
        if talk_s is not None:
            talk.append(float(talk_s))
    return CallProfile.of(attempts, answered, ring, talk, scope)
