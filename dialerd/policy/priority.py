"""Who is called first: new leads, then the rest, oldest due first within each rank.

A lead's rank is stored with it, so the store picks with one index range scan
per rank (``leads_pick``) instead of sorting the whole table.
"""

from __future__ import annotations

NEW_LEAD_RANK = 0
RETRY_RANK = 1
RANKS: tuple[int, ...] = (NEW_LEAD_RANK, RETRY_RANK)


def rank_after_attempt(attempts: int) -> int:
    """The rank of a lead that has been dialed ``attempts`` times."""
    return NEW_LEAD_RANK if attempts == 0 else RETRY_RANK
