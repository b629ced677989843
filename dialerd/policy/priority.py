"""Who is called first (R3): the priority schemes, as a rank stored with each lead.

A lead's rank changes only when its own state changes (an attempt, a callback),
never with the clock, so the store keeps it in a column and picks with one index
range scan per rank (``leads_pick``) instead of sorting the table. Within a rank
the oldest due comes first; new leads go by their speed-to-lead deadline, which
for one campaign is the same as oldest first.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

MAX_ATTEMPTS_CAP = 20  # the config's upper bound for any campaign's attempt cap


class Scheme(StrEnum):
    TIERS = "tiers"  # variant 1: new, one attempt, due callbacks, redials
    FEWEST_ATTEMPTS = "fewest_attempts"  # variant 2: new, then by ascending attempts


class Tier(IntEnum):
    """The ranks of the ``tiers`` scheme."""

    NEW = 1
    SECOND_ATTEMPT = 2
    CALLBACK = 3
    REDIAL = 4


NEW_LEAD_RANK = int(Tier.NEW)
# Every rank any scheme can give, in pick order (fewest_attempts: 1 + attempts so far).
RANKS: tuple[int, ...] = tuple(range(1, MAX_ATTEMPTS_CAP + 2))


def ranks_in_use(schemes_and_caps: list[tuple[Scheme, int]]) -> tuple[int, ...]:
    """The ranks a callable lead can have under these campaigns, in pick order.

    A lead at its cap is never callable (it is closed as exhausted), so fewest_attempts
    stops at rank ``cap``; picking probes only these ranks.
    """
    ranks: set[int] = set()
    for scheme, cap in schemes_and_caps:
        ranks.update(tuple(Tier) if scheme is Scheme.TIERS else range(1, cap + 1))
    return tuple(sorted(ranks))


def rank_for(scheme: Scheme, attempts: int, callback_pending: bool, cap: int | None = None) -> int:
    """The rank of a waiting lead that has been dialed ``attempts`` times.

    ``cap``: the campaign's attempt cap. A lead requeued past it by a supervisor (issue 13)
    takes the last rank the campaign's picks probe, ``cap``, instead of one beyond it.
    """
    if scheme is Scheme.FEWEST_ATTEMPTS:
        return 1 + (attempts if cap is None else min(attempts, max(cap - 1, 0)))
    if callback_pending:
        return Tier.CALLBACK
    if attempts == 0:
        return Tier.NEW
    if attempts == 1:
        return Tier.SECOND_ATTEMPT
    return Tier.REDIAL


def describe_rank(scheme: Scheme, rank: int) -> str:
    """The rank's name as `plan` and `explain` print it."""
    if scheme is Scheme.FEWEST_ATTEMPTS:
        return "new" if rank == 1 else f"attempts={rank - 1}"
    try:
        return Tier(rank).name.lower()
    except ValueError:
        return f"rank {rank}"


def rank_sql(scheme: Scheme, cap: int | None = None) -> str:
    """``rank_for`` as an SQL expression over a leads row, to re-rank a campaign in place."""
    if scheme is Scheme.FEWEST_ATTEMPTS:
        return "1 + attempts" if cap is None else f"1 + MIN(attempts, {max(int(cap) - 1, 0):d})"
    return (
        f"CASE WHEN callback_at IS NOT NULL THEN {Tier.CALLBACK:d}"
        f" WHEN attempts = 0 THEN {Tier.NEW:d} WHEN attempts = 1 THEN {Tier.SECOND_ATTEMPT:d}"
        f" ELSE {Tier.REDIAL:d} END"
    )
