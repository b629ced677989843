"""The lead desk (issue 13): find a lead, see everything about it, play its recordings.

Search by phone (normalised to E.164 as intake does, so ``8 (916) 123-45-67`` finds
``+79161234567``), by order id, or by a part of the name. A lead's page shows every
attempt with the operator's result and note, each answered call's recording in an HTML5
``<audio>`` (served by ``/supervisor/calls/{id}/recording`` through the checks of the API's
recording route), ``explain`` in the engine's own words with the lead's place in the dial
order (``dialerd plan``'s computation), the audit of what supervisors did to it, and the
actions (``desk_actions.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

from dialerd.api.recordings import has_recording, locate, media_type
from dialerd.dialer.planning import plan
from dialerd.formats import decimal_amount
from dialerd.policy.desk import MAX_EXTRA_PER_REQUEUE
from dialerd.policy.phones import InvalidPhone, parse_phone
from dialerd.policy.pick import explain
from dialerd.store import audit
from dialerd.store import calls as calls_store
from dialerd.store import desk as desk_store
from dialerd.store import dispositions as dispositions_store
from dialerd.store import leads as lead_store
from dialerd.web.auth import Person, require
from dialerd.web.context import ConsoleContext, console
from dialerd.web.render import HEADERS, page, translator

router = APIRouter()
Supervisor = Annotated[Person, Depends(require("supervisor"))]
LeadId = Annotated[int, Path(ge=1, le=2**63 - 1)]
CallId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
Code = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")]
PLAN_DEPTH = 500  # how far down the dial order the desk looks for a lead's place


@router.get("/supervisor/leads", include_in_schema=False)
async def search(
    request: Request, who: Supervisor, q: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    ctx = console(request)
    settings = ctx.settings()
    t = translator(request, who.language, settings.console.language)
    text = " ".join(q.split())
    found: list[desk_store.Found] = []
    if text:
        try:
            phone: str | None = parse_phone(text, settings.phones.default_region).e164
        except InvalidPhone:
            phone = None
        found = await desk_store.search(ctx.reader, phone=phone, text=text)
    policy = ctx.policy()
    return page(
        "desk.html",
        t,
        csrf=who.csrf,
        who=who,
        q=text,
        searched=bool(text),
        found=found,
        local=lambda epoch: _local(ctx, epoch),
        policy=policy,
    )


@router.get("/supervisor/leads/{lead_id}", include_in_schema=False)
async def lead_page(
    lead_id: LeadId, request: Request, who: Supervisor, done: Code = None, error: Code = None
) -> HTMLResponse:
    ctx = console(request)
    settings = ctx.settings()
    t = translator(request, who.language, settings.console.language)
    lead = await lead_store.get_lead(ctx.reader, lead_id)
    if lead is None:
        return page("message.html", t, 404, title=t("error.title"), text=t("desk.no_lead"))
    now, policy = ctx.clock(), ctx.policy()
    recordings = settings.api.recordings_dir
    results: dict[str, list[dict[str, Any]]] = {}
    for row in await dispositions_store.of_lead(ctx.reader, lead_id):
        results.setdefault(row["call_id"], []).append(
            {**row, "amount": decimal_amount(row["amount_minor"])}
        )
    attempts = [
        {
            **a,
            "results": results.get(a["call_id"], []),
            "recording": a["outcome"] == "answered"
            and has_recording(recordings, a["recording_path"], a["call_id"]),
        }
        for a in await lead_store.attempts_of(ctx.reader, lead_id)
    ]
    (view,) = await lead_store.lead_views(ctx.reader, "id = ?", (lead_id,), "id", 1)
    decision = explain(view, now, policy)
    position = None
    if decision.callable:
        for item in await plan(ctx.reader, now, policy, PLAN_DEPTH):
            if item.lead_id == lead_id and item.position is not None:
                position = item.position
                break
    campaign = policy.campaign(lead["campaign"])
    return page(
        "lead.html",
        t,
        csrf=who.csrf,
        who=who,
        lead=lead,
        amount=decimal_amount(lead["amount_minor"]),
        items=_json(lead["items"]),
        attempts=attempts,
        decision=decision,
        position=position,
        depth=PLAN_DEPTH,
        cap=campaign.max_attempts + lead["extra_attempts"],
        audit=await audit.recent(ctx.reader, 50, lead_id=lead_id),
        done=done,
        error=error,
        local=lambda epoch: _local(ctx, epoch),
        picker_min=datetime.fromtimestamp(now, policy.tz).strftime("%Y-%m-%dT%H:%M"),
        zone=str(policy.tz),
        max_extra=MAX_EXTRA_PER_REQUEUE,
    )


@router.get("/supervisor/calls/{call_id}/recording", include_in_schema=False)
async def recording(call_id: CallId, request: Request, who: Supervisor) -> FileResponse:
    """The call's recording, through the API's own checks (``api.recordings.locate``): a
    known call, a recordings directory configured, and never a file outside it."""
    ctx = console(request)
    found = await calls_store.call_files(ctx.reader, call_id)
    directory = ctx.settings().api.recordings_dir
    path = locate(directory, found.recording_path, call_id) if found is not None else None
    if path is None:
        raise HTTPException(404)
    headers = {k: v for k, v in HEADERS.items() if k != "Cache-Control"}
    return FileResponse(path, media_type=media_type(path), headers=headers)


@router.get("/supervisor/audit", include_in_schema=False)
async def audit_page(request: Request, who: Supervisor) -> HTMLResponse:
    ctx = console(request)
    t = translator(request, who.language, ctx.settings().console.language)
    entries = await audit.recent(ctx.reader, 200)
    return page(
        "audit.html",
        t,
        csrf=who.csrf,
        who=who,
        entries=entries,
        local=lambda epoch: _local(ctx, epoch),
    )


def _local(ctx: ConsoleContext, epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, ctx.policy().tz).strftime("%Y-%m-%d %H:%M:%S")


def _json(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return None
