"""`dialerd plan` and `dialerd explain`: the engine's reasoning, read-only.

The callable list is built by the same queries (``due_leads``) and the same
``judge`` the engine uses, so the plan is the order the daemon would dial in.
``explain_lead`` and ``explained_json`` are one lead's reasoning, the same for
`dialerd explain` and ``GET /api/v1/leads/{id}/explain``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from dialerd.formats import utc_iso, utc_iso_or_none
from dialerd.pbx.outcomes import cause_meaning
from dialerd.policy.pick import Decision, Policy, explain
from dialerd.store import dispositions, due
from dialerd.store import dnc as dnc_store
from dialerd.store import leads as store
from dialerd.store.sql import Store

POSITION_HORIZON = 1000  # explain counts a lead's place in the dial order this far


async def plan(db: Store, now: float, policy: Policy, limit: int) -> list[Decision]:
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


def closed_without_tier(row: dict[str, Any]) -> dict[str, Any]:
    """A closed lead is in no tier and has no deadline left (``reason`` "closed: ...")."""
    if str(row["reason"]).startswith("closed:"):
        row.update(tier=None, rank=None, deadline_at=None)
    return row


@dataclass(frozen=True)
class Explained:
    """One lead's reasoning at ``at``, with what its calls came to."""

    decision: Decision
    at: float
    closed: bool
    history: list[dict[str, Any]]  # one per attempt, oldest first; instants as epoch seconds
    dnc: dict[str, Any] | None  # the do-not-call entry that blocks the phone: pattern, note


async def explain_lead(db: Store, lead_id: int, now: float, policy: Policy) -> Explained | None:
    """Why lead ``lead_id`` is (not) callable at ``now``, or None when there is no such lead.

    A callable lead gets its place in the dial order (``plan``'s count, up to
    ``POSITION_HORIZON``); each attempt its hangup cause's meaning and the operator's result.
    """
    views = await store.lead_views(db, "id = ?", (lead_id,), "id", 1)
    if not views:
        return None
    decision = explain(views[0], now, policy)
    if decision.callable:
        order = await plan(db, now, policy, POSITION_HORIZON)
        place = next((d.position for d in order if d.lead_id == lead_id), None)
        decision = replace(decision, position=place)
    results = {d["attempt_id"]: d for d in await dispositions.of_lead(db, lead_id)}
    history = [
        {
            "attempt": a["number"],
            "call_id": a["call_id"],
            "at": a["created_at"],
            "outcome": a["outcome"] or "in flight",
            "hangup_cause": a["hangup_cause"],
            "hangup_cause_meaning": cause_meaning(a["hangup_cause"]),
            "talk_s": a["talk_s"],
            "operator": a["operator"],
            "result": results.get(a["id"], {}).get("result"),
            "result_note": results.get(a["id"], {}).get("note"),
            "note": a["note"],
        }
        for a in await store.attempts_of(db, lead_id)
    ]
    blocking = await dnc_store.matching(db, decision.phone)
    dnc = {"pattern": blocking[0]["pattern"], "note": blocking[0]["note"]} if blocking else None
    return Explained(decision, now, views[0].state == "closed", history, dnc)


def explained_json(found: Explained) -> dict[str, Any]:
    """The documented JSON of `dialerd explain --format json` and the API's explain."""
    data = decision_json(found.decision)
    if found.closed:  # a closed lead has no place in any tier, and no deadline left
        data.update(tier=None, rank=None, deadline_at=None)
    data = closed_without_tier(data)
    return {
        **data,
        "at": utc_iso(found.at),
        "dnc": found.dnc,
        "attempt_history": [{**item, "at": utc_iso(item["at"])} for item in found.history],
    }
