"""Lead endpoints for reading: a lead with its calls and results, and the policy's reasoning.

Leads come in through ``dialerd.api.intake``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Request

from dialerd.api.context import context
from dialerd.api.errors import ApiError
from dialerd.api.models import AttemptOut, DispositionOut, ErrorOut, ExplainOut, LeadOut
from dialerd.api.recordings import has_recording
from dialerd.api.routes import UNAUTHORIZED, Routes
from dialerd.dialer.planning import decision_json
from dialerd.formats import decimal_amount, utc_iso, utc_iso_or_none
from dialerd.policy.pick import explain
from dialerd.store import dispositions as dispositions_store
from dialerd.store import leads as store

router = Routes()

LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the lead's id")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {401: UNAUTHORIZED, 404: {"model": ErrorOut}}


@router.get(
    "/leads/{lead_id}",
    response_model=LeadOut,
    responses=_NOT_FOUND,
    summary="A lead with its calls and results",
)
async def get_lead(lead_id: LeadId, request: Request) -> LeadOut:
    ctx = context(request)
    lead = await store.get_lead(ctx.reader, lead_id)
    if lead is None:
        raise ApiError(404, "not_found", f"no lead {lead_id}")
    attempts = await store.attempts_of(ctx.reader, lead_id)
    results = await dispositions_store.of_lead(ctx.reader, lead_id)
    recordings = ctx.settings().api.recordings_dir
    return LeadOut(
        lead_id=lead["id"],
        phone=lead["phone"],
        campaign=lead["campaign"],
        order_id=lead["order_id"],
        name=lead["name"],
        amount=decimal_amount(lead["amount_minor"]),
        items=_json(lead["items"]),
        comment=lead["comment"],
        metadata=_json(lead["metadata"]),
        source=lead["source"],
        received_at=utc_iso(lead["received_at"]),
        state=lead["state"],
        close_reason=lead["close_reason"],
        closed_at=utc_iso_or_none(lead["closed_at"]),
        due_at=utc_iso(lead["due_at"]),
        callback_at=utc_iso_or_none(lead["callback_at"]),
        deadline_at=utc_iso_or_none(lead["deadline_at"]),
        timezone=lead["timezone"],
        region=lead["region"],
        attempts=[
            AttemptOut.model_validate(
                {
                    "number": a["number"],
                    "call_id": a["call_id"],
                    "status": a["status"],
                    "outcome": a["outcome"],
                    "created_at": utc_iso(a["created_at"]),
                    "answered_at": utc_iso_or_none(a["answered_at"]),
                    "ended_at": utc_iso_or_none(a["ended_at"]),
                    "ring_s": a["ring_s"],
                    "talk_s": a["talk_s"],
                    "hangup_cause": a["hangup_cause"],
                    "operator": a["operator"],
                    "has_recording": has_recording(recordings, a["recording_path"], a["call_id"]),
                    "note": a["note"],
                    "amd_status": a["amd_status"],
                    "amd_cause": a["amd_cause"],
                }
            )
            for a in attempts
        ],
        dispositions=[disposition_out(d) for d in results],
    )


@router.get(
    "/leads/{lead_id}/explain",
    response_model=ExplainOut,
    responses=_NOT_FOUND,
    summary="Why the lead is (not) being called: the engine's own reasoning",
)
async def explain_lead(lead_id: LeadId, request: Request) -> dict[str, Any]:
    ctx = context(request)
    views = await store.lead_views(ctx.reader, "id = ?", (lead_id,), "id", 1)
    if not views:
        raise ApiError(404, "not_found", f"no lead {lead_id}")
    decision = explain(views[0], ctx.clock(), ctx.policy())
    history = [
        {
            "attempt": a["number"],
            "call_id": a["call_id"],
            "at": utc_iso(a["created_at"]),
            "outcome": a["outcome"] or "in flight",
            "hangup_cause": a["hangup_cause"],
            "talk_s": a["talk_s"],
            "note": a["note"],
        }
        for a in await store.attempts_of(ctx.reader, lead_id)
    ]
    return {**decision_json(decision), "attempt_history": history}


# --- helpers -------------------------------------------------------------------------------


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def disposition_out(row: dict[str, Any]) -> DispositionOut:
    return DispositionOut.model_validate(
        {
            "disposition_id": row["id"],
            "lead_id": row["lead_id"],
            "call_id": row["call_id"],
            "result": row["result"],
            "amount": decimal_amount(row["amount_minor"]),
            "at": utc_iso_or_none(row["callback_at"]),
            "note": row["note"],
            "flags": json.loads(row["flags"] or "[]"),
            "operator": row["operator"],
            "created_at": utc_iso(row["created_at"]),
            "wrapup_s": row["wrapup_s"],
        }
    )
