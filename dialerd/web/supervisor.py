"""The supervisor's wallboard (issue 13): the page, its TV mode, its charts, and pausing a
campaign.

The page is rendered whole with the numbers already in it (the same ``wallboard`` message
the stream then pushes), so it makes sense before its script runs; ``supervisor.js``
follows ``/events`` and updates it in place. ``?tv=1`` is the same board for a screen on
the wall: big type, no buttons.

Pausing a campaign goes to the engine at once (``dialer.floor.CampaignHold``): no new
Originate for it from the moment the answer is sent, until it is resumed; the pause is
kept in the store (a restart keeps it) and audited.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dialerd.web.auth import Person, check_csrf, require
from dialerd.web.context import ConsoleContext, console
from dialerd.web.i18n import Translator
from dialerd.web.pages import read_form
from dialerd.web.render import HEADERS, page, translator
from dialerd.web.wallboard import PRESENCES

log = structlog.get_logger("dialerd.console")
router = APIRouter()
Supervisor = Annotated[Person, Depends(require("supervisor"))]
CampaignName = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
TIERS = ("new", "second_attempt", "callback", "redial")
ALERT_KINDS = (
    "complaint",
    "big_order",
    "speed_to_lead_warning",
    "speed_to_lead_missed",
    "ami_down",
    "ami_restored",
    "crm_backlog",
    "crm_backlog_cleared",
    "store_full",
    "store_restored",
    "detractor",
    "no_operators",
    "dead_air",
    "dead_air_cleared",
    "caller_id_spam",
)
# what the page's script says itself; every key is in the catalogs
SCRIPT_TEXTS = (
    *(f"presence.{p}" for p in PRESENCES),
    *(f"tier.{tier}" for tier in TIERS),
    *(f"alert.{kind}" for kind in ALERT_KINDS),
    "pause.missed_call",
    "pbx.up",
    "pbx.down",
    "wb.paused",
    "wb.dialing",
    "wb.lead",
    "js.reconnecting",
    "js.listen_calling",
    "js.listen_on",
    "js.listen_failed",
)


def texts(t: Translator) -> dict[str, str]:
    return {key: t(key) for key in SCRIPT_TEXTS}


def me(ctx: ConsoleContext, who: Person) -> dict[str, Any]:
    """What this supervisor may do besides looking: listen (with a device), whisper, barge."""
    for supervisor in ctx.settings().console.supervisors:
        if supervisor.name == who.user:
            modes = ["listen"] if supervisor.device else []
            if supervisor.device and supervisor.whisper:
                modes.append("whisper")
            if supervisor.device and supervisor.barge:
                modes.append("barge")
            return {"device": supervisor.device, "modes": modes}
    return {"device": None, "modes": []}


@router.get("/supervisor", include_in_schema=False)
async def wallboard_page(request: Request, who: Supervisor, tv: int = 0) -> HTMLResponse:
    ctx = console(request)
    t = translator(request, who.language, ctx.settings().console.language)
    hello = await ctx.hub.hello(who.user, who.role)
    board = hello.get("wallboard") or {}
    charts = ctx.wallboard.charts(t) if ctx.wallboard is not None else ""
    return page(
        "supervisor.html",
        t,
        csrf=who.csrf,
        who=who,
        wb=board,
        tv=bool(tv),
        charts=charts,
        texts=texts(t),
        me=me(ctx, who),
        tier_names=TIERS,
        now=ctx.clock(),
    )


@router.get("/supervisor/wallboard/charts", include_in_schema=False)
async def charts_fragment(request: Request, who: Supervisor) -> HTMLResponse:
    """Today's charts, fetched by the page when a message says they were redrawn."""
    ctx = console(request)
    t = translator(request, who.language, ctx.settings().console.language)
    html = ctx.wallboard.charts(t) if ctx.wallboard is not None else ""
    return HTMLResponse(html, headers=HEADERS)


@router.post("/supervisor/campaigns/{name}/pause", include_in_schema=False)
async def pause_campaign(name: CampaignName, request: Request, who: Supervisor) -> Response:
    return await _campaign(request, who, name, paused=True)


@router.post("/supervisor/campaigns/{name}/resume", include_in_schema=False)
async def resume_campaign(name: CampaignName, request: Request, who: Supervisor) -> Response:
    return await _campaign(request, who, name, paused=False)


async def _campaign(request: Request, who: Person, name: str, *, paused: bool) -> Response:
    ctx = console(request)
    form = await read_form(request)
    check_csrf(request, who, form.get("csrf"))
    if name not in ctx.policy().campaigns:
        return RedirectResponse("/supervisor?error=no_campaign", status_code=303)
    note = (form.get("note") or "").strip()[:500] or None
    if paused:
        changed = await ctx.floor.pause(name, who.user, note)
    else:
        changed = await ctx.floor.resume(name, who.user)
    log.info("console_campaign", user=who.user, campaign=name, paused=paused, changed=changed)
    if ctx.wallboard is not None:
        ctx.hub.poke_wallboard()
    done = ("paused" if paused else "resumed") if changed else "unchanged"
    return RedirectResponse(f"/supervisor?done={done}", status_code=303)
