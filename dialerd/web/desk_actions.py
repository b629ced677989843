"""A supervisor's actions on a lead (issue 13): reschedule, close, do-not-call, requeue.

Plain forms (they work before any script runs), each with the session's CSRF token, each
answered by a redirect back to the lead's page saying what was done or why not. The rules
are the CLI's and the API's (``policy/desk.py``); the change and its audit row are one
transaction (``store/desk.py``); the engine is woken when a lead becomes due.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse

from dialerd.policy.desk import DeskRefused, callback_time
from dialerd.store import desk as desk_store
from dialerd.web.auth import Person, check_csrf, require
from dialerd.web.context import console
from dialerd.web.pages import read_form

log = structlog.get_logger("dialerd.console")
router = APIRouter()
Supervisor = Annotated[Person, Depends(require("supervisor"))]
LeadId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ACTIONS = ("reschedule", "close", "dnc", "requeue")
NOTE_CHARS = 500


@router.post("/supervisor/leads/{lead_id}/{action}", include_in_schema=False)
async def act(lead_id: LeadId, action: str, request: Request, who: Supervisor) -> RedirectResponse:
    ctx = console(request)
    form = await read_form(request)
    check_csrf(request, who, form.get("csrf"))
    back = f"/supervisor/leads/{lead_id}"
    if action not in ACTIONS:
        return RedirectResponse(f"{back}?error=unknown_action", status_code=303)
    now, policy = ctx.clock(), ctx.policy()
    note = " ".join((form.get("note") or "").split())[:NOTE_CHARS] or None
    try:
        if action == "reschedule":
            at = callback_time(form.get("at"), now, policy.window, policy.tz)
            await desk_store.reschedule(ctx.db, lead_id, at, policy, user=who.user, now=now)
            ctx.wake()
        elif action == "close":
            await desk_store.close(ctx.db, lead_id, note, user=who.user, now=now)
        elif action == "dnc":
            if note is None:
                raise DeskRefused("note_required")
            await desk_store.add_dnc(ctx.db, lead_id, note, user=who.user, now=now)
        else:
            extra = _int(form.get("extra"))
            await desk_store.requeue(ctx.db, lead_id, extra, policy, user=who.user, now=now)
            ctx.wake()
    except DeskRefused as refused:
        log.info("console_desk_refused", user=who.user, lead_id=lead_id, code=refused.code)
        return RedirectResponse(f"{back}?error={refused.code}", status_code=303)
    except desk_store.LeadNotFound:
        return RedirectResponse(f"{back}?error=no_lead", status_code=303)
    log.info("console_desk_action", user=who.user, lead_id=lead_id, action=action)
    ctx.hub.poke_wallboard()
    return RedirectResponse(f"{back}?done={action}", status_code=303)


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise DeskRefused("extra_range") from None
