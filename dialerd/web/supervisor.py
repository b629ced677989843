"""The supervisor's start page: every operator's presence, live from the same stream.

The wallboard and the lead desk (issue 13) grow from here; the sign-in, the role check
and the event stream are the operator screen's own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from dialerd.web.auth import Person, require
from dialerd.web.context import console
from dialerd.web.presence import view_of
from dialerd.web.render import page, translator

router = APIRouter()
Supervisor = Annotated[Person, Depends(require("supervisor"))]


@router.get("/supervisor", include_in_schema=False)
async def supervisor_page(request: Request, who: Supervisor) -> HTMLResponse:
    ctx = console(request)
    t = translator(request, who.language, ctx.settings().console.language)
    now = ctx.clock()
    views = [view_of(op, now) for op in ctx.board().operators.values()]
    return page("supervisor.html", t, csrf=who.csrf, who=who, views=views)
