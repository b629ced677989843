"""`dialerd plan` and `dialerd explain`: the engine's reasoning, read-only.

The callable list is built by the same queries (``due_leads``) and the same
``judge`` the engine uses, so the plan is the order the daemon would dial in.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from dialerd.formats import utc_iso_or_none
from dialerd.policy.pick import Decision, Policy, explain
from dialerd.store import due
from dialerd.store import leads as store
from dialerd.store.db import Database


async def plan(db: Database, now: float, policy: Policy, limit: int) -> list[Decision]:
    """The next ``limit`` leads in dial order, then up to ``limit`` that are not callable and why."""
    callable_: list[Decision] = []
    blocked: list[Decision] = []
    for lead in await due.due_views(db, now, policy.ranks, limit):
        decision = explain(lead, now, policy)
        if decision.callable:
            callable_.append(replace(decision, position=len(callable_) + 1))
        else:
            blocked.append(decision)
    later: list[tuple[str, tuple[Any, ...], str]] = [
        ("state = 'waiting' AND due_at > ?", (now,), "due_at, id"),
        ("state = 'dialing'", (), "id"),
        ("state = 'closed'", (), "closed_at DESC, id DESC"),
    ]
    for where, args, order in later:
        if len(blocked) >= limit:
            break
        for lead in await store.lead_views(db, where, args, order, limit - len(blocked)):
            blocked.append(explain(lead, now, policy))
    for dup in await store.recent_duplicates(db, max(0, limit - len(blocked))):
        blocked.append(
            Decision(
                lead_id=dup["duplicate_of"],
                phone=dup["phone"],
                campaign=dup["campaign"],
                callable=False,
                tier="duplicate",
                rank=0,
                reason=f"duplicate rejected at {policy.local_time(dup['received_at'])} "
                f"(rule {dup['rule']}): duplicates lead {dup['duplicate_of']}",
                due_at=None,
                deadline_at=None,
                attempts=0,
            )
        )
    return callable_ + blocked[:limit]


def decision_json(decision: Decision) -> dict[str, Any]:
    """The documented, stable JSON shape of one lead in `plan` / `explain` output."""
    data = asdict(decision)
    for key in ("due_at", "deadline_at"):
        data[key] = utc_iso_or_none(data[key])
    return data
