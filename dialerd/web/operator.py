"""The operator's screen: the page, the result of a call, pause / resume / ready.

A result goes through the very code path of the API's disposition
(``store.dispositions.record`` with ``policy.disposition``'s rules), so the CRM push,
alerts and reports follow exactly as they do for ``POST /api/v1/calls/{id}/disposition``.
The console adds what a person at a screen needs: the call must be the operator's own,
a complaint needs a note, a callback time must be inside the calling window, and every
refusal comes back as one sentence in the operator's language.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse

from dialerd.dialer.pauses import PauseError
from dialerd.domain import Result
from dialerd.formats import decimal_amount
from dialerd.intake.leads import LeadRejected, parse_amount
from dialerd.pbx.ami import ActionRefused, PbxUnavailable
from dialerd.policy.desk import DeskRefused, callback_time
from dialerd.policy.disposition import Disposition, DispositionConflict, DispositionInvalid
from dialerd.policy.pick import Policy
from dialerd.store import cards as card_store
from dialerd.store import dispositions, surveys
from dialerd.web.auth import Person, check_csrf, require
from dialerd.web.card import RESULTS, owns, render_card
from dialerd.web.context import console
from dialerd.web.i18n import Translator
from dialerd.web.phone import phone_view
from dialerd.web.render import HEADERS, page, translator

log = structlog.get_logger("dialerd.console")
router = APIRouter()

CallId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
Operator = Annotated[Person, Depends(require("operator"))]
MAX_BODY_BYTES = 16 * 1024
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Refused(Exception):
    """A request the operator can fix: HTTP status, a code, and the catalog key to show."""

    def __init__(self, status: int, code: str, key: str, **values: object) -> None:
        super().__init__(code)
        self.status, self.code, self.key, self.values = status, code, key, values

    def response(self, t: Translator) -> JSONResponse:
        message = t(self.key, **self.values)
        return JSONResponse(
            {"error": {"code": self.code, "message": message}},
            status_code=self.status,
            headers=HEADERS,
        )


@router.get("/operator", include_in_schema=False)
async def operator_page(request: Request, who: Operator) -> HTMLResponse:
    ctx = console(request)
    settings = ctx.settings()
    t = translator(request, who.language, settings.console.language)
    hello = await ctx.hub.hello(who.user, who.role)
    state = hello["operator"] or {}
    card = hello["card"]
    counts = hello["counts"] or {}
    phone = phone_view(settings, who.user)  # the browser phone, if this operator has one
    return page(
        "operator.html",
        t,
        connect=(phone["origin"],) if phone else (),
        phone=phone,
        csrf=who.csrf,
        who=who,
        view=_Presence(state),
        since=state.get("since", ctx.clock()),
        reason_text=_reason_text(t, state.get("pause_reason")),
        pbx=hello["pbx"],
        counts={
            "calls": counts.get("calls", 0),
            "talk": _duration(counts.get("talk_s", 0)),
            "confirmed": counts.get("confirmed", 0),
            "revenue": counts.get("revenue", "0"),
        },
        pause_reasons=settings.pauses.reasons,
        card_html=card["html"] if card else None,
        texts=t.subset("js.")
        | {f"result.{r}": t(f"result.{r}") for _, r in RESULTS}
        | {f"presence.{p}": t(f"presence.{p}") for p in _PRESENCES}
        | {k: t(k) for k in ("pbx.up", "pbx.down", "pause.missed_call", "card.waiting")}
        | {f"outcome.{o}": t(f"outcome.{o}") for o in _OUTCOMES},
    )


@router.post("/operator/calls/{call_id}/result", include_in_schema=False)
async def record_result(call_id: CallId, request: Request, who: Operator) -> JSONResponse:
    ctx = console(request)
    settings = ctx.settings()
    t = translator(request, who.language, settings.console.language)
    check_csrf(request, who, None)
    try:
        disposition = await _disposition(request, who, call_id)
        policy = ctx.policy()
        try:
            recorded = await dispositions.record(ctx.db, call_id, disposition, policy, ctx.clock())
        except DispositionInvalid as exc:
            raise Refused(
                422, "invalid", "js.not_saved", why=f"{exc.field}: {exc.reason}"
            ) from None
        except DispositionConflict as exc:
            if exc.code == "call_in_progress":  # not a failure: the page sends it at the end
                return JSONResponse(
                    {"call_id": call_id, "pending": "call_in_progress"},
                    status_code=202,
                    headers=HEADERS,
                )
            raise Refused(409, exc.code, "js.not_saved", why=exc.reason) from None
        except dispositions.CallNotFound:
            raise Refused(404, "not_found", "error.no_call") from None
    except Refused as refused:
        log.info("console_result_refused", user=who.user, call_id=call_id, code=refused.code)
        return refused.response(t)
    ctx.hub.forget_card(who.user, call_id, disposition.result.value)
    if not recorded.replayed:  # a saved result ends the wrap-up (not a queue wrapuptime)
        with contextlib.suppress(PauseError):
            ctx.desk.ready(who.user)
    if not recorded.replayed and disposition.result is Result.CALLBACK:
        ctx.wake()  # the engine's next due time changed
    log.info(
        "console_result",
        user=who.user,
        call_id=call_id,
        lead_id=recorded.lead_id,
        result=disposition.result.value,
        replayed=recorded.replayed,
    )
    return JSONResponse(
        {
            "call_id": call_id,
            "result": disposition.result.value,
            "amount": decimal_amount(disposition.amount_minor),
            "lead_state": recorded.lead_state,
            "replayed": recorded.replayed,
        },
        status_code=200 if recorded.replayed else 201,
        headers=HEADERS,
    )


@router.get("/operator/calls/{call_id}/card", include_in_schema=False)
async def card_fragment(call_id: CallId, request: Request, who: Operator) -> HTMLResponse:
    """The card of one of the operator's own calls (the page asks after a reconnect)."""
    ctx = console(request)
    found = await render_card(ctx, call_id, who.user, who.language)
    if found is None:
        t = translator(request, who.language, ctx.settings().console.language)
        return HTMLResponse(t("error.not_yours"), status_code=404, headers=HEADERS)
    return HTMLResponse(found[1], headers=HEADERS)


@router.post("/operator/pause", include_in_schema=False)
async def pause(request: Request, who: Operator) -> JSONResponse:
    return await _desk(request, who, "pause")


@router.post("/operator/resume", include_in_schema=False)
async def resume(request: Request, who: Operator) -> JSONResponse:
    return await _desk(request, who, "resume")


@router.post("/operator/ready", include_in_schema=False)
async def ready(request: Request, who: Operator) -> JSONResponse:
    return await _desk(request, who, "ready")


@router.post("/operator/calls/{call_id}/survey", include_in_schema=False)
async def survey(call_id: CallId, request: Request, who: Operator) -> JSONResponse:
    """Send the customer of the operator's own live call to the post-call survey: the
    operator's leg ends, the customer hears the campaign's questions."""
    ctx = console(request)
    settings = ctx.settings()
    t = translator(request, who.language, settings.console.language)
    check_csrf(request, who, None)
    found = await surveys.campaign_of_call(ctx.reader.conn, call_id)
    if found is not None and found[1] == "agent_first":  # the call placed is the operator's
        return Refused(409, "agent_first", "survey.agent_first").response(t)
    live = ctx.board().operators.get(who.user)
    if live is None or live.current is None or live.current.call_id != call_id:
        return Refused(409, "not_on_call", "survey.not_on_call").response(t)
    campaign = settings.campaigns.get(found[0]) if found is not None else None
    if campaign is None or not campaign.survey.enabled or ctx.desk.survey is None:
        return Refused(409, "no_survey", "survey.none").response(t)
    try:
        await ctx.desk.survey(call_id, campaign.survey.context)
    except PbxUnavailable:
        return Refused(503, "pbx_unavailable", "error.pbx").response(t)
    except (ActionRefused, ValueError, TimeoutError) as exc:  # ended, or Asterisk said no
        log.info("console_survey_refused", user=who.user, call_id=call_id, why=str(exc))
        return Refused(409, "not_sent", "js.not_saved", why=str(exc)).response(t)
    log.info("console_survey", user=who.user, call_id=call_id, lead_id=live.current.lead_id)
    return JSONResponse({"ok": True, "call_id": call_id}, headers=HEADERS)


async def _desk(request: Request, who: Person, action: str) -> JSONResponse:
    ctx = console(request)
    t = translator(request, who.language, ctx.settings().console.language)
    check_csrf(request, who, None)
    try:
        if action == "pause":
            body = await _json(request)
            reason = body.get("reason")
            if not isinstance(reason, str) or reason not in ctx.settings().pauses.reasons:
                raise Refused(422, "unknown_reason", "error.reason")
            await ctx.desk.pause(who.user, reason)
        elif action == "resume":
            await ctx.desk.resume(who.user)
        else:
            ctx.desk.ready(who.user)
    except Refused as refused:
        return refused.response(t)
    except PbxUnavailable:
        return Refused(503, "pbx_unavailable", "error.pbx").response(t)
    except PauseError as exc:  # Asterisk said no, or a wrap-up Asterisk's queue keeps
        log.info("console_desk_refused", user=who.user, action=action, why=str(exc))
        return Refused(409, type(exc).__name__, "js.not_saved", why=str(exc)).response(t)
    log.info("console_desk", user=who.user, action=action)
    return JSONResponse({"ok": True, "action": action}, headers=HEADERS)


async def _json(request: Request) -> dict[str, Any]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, "too_large", "error.bad_request")
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        raise Refused(400, "malformed", "error.bad_request") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "malformed", "error.bad_request")
    return parsed


async def _disposition(request: Request, who: Person, call_id: str) -> Disposition:
    ctx = console(request)
    owner = await card_store.call_owner(ctx.reader.conn, call_id)
    if owner is None:
        raise Refused(404, "not_found", "error.no_call")
    if not owns(ctx, call_id, who.user, owner):
        log.warning("console_not_own_call", user=who.user, call_id=call_id)
        raise Refused(403, "not_yours", "error.not_yours")
    body = await _json(request)
    try:
        result = Result(str(body.get("result")))
    except ValueError:
        raise Refused(422, "invalid", "error.bad_request") from None
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or _CONTROL_EXCEPT_NEWLINES.search(note)):
        raise Refused(422, "invalid", "error.bad_request")
    note = (note or "").strip()[:2000] or None
    if result is Result.COMPLAINT and note is None:
        raise Refused(422, "note_required", "error.note_required")
    amount = None
    if result is Result.CONFIRMED:
        raw = body.get("amount")
        try:
            amount = parse_amount(raw if isinstance(raw, str | int) else None)
        except LeadRejected:
            raise Refused(422, "amount", "error.amount") from None
        if amount is None:
            raise Refused(422, "amount", "error.amount")
    at = None
    if result is Result.CALLBACK:
        at = _callback_at(ctx.policy(), body.get("at"), ctx.clock())
    flags = ("upsell",) if body.get("upsell") is True else ()
    return Disposition(
        result=result,
        amount_minor=amount,
        callback_at=at,
        note=note,
        flags=flags,
        operator=who.user,
    )


def _callback_at(policy: Policy, raw: object, now: float) -> float:
    """The picker's time through the supervisor desk's rule (one rule for both): in the
    future and inside the calling window."""
    try:
        return callback_time(raw if isinstance(raw, str) else None, now, policy.window, policy.tz)
    except DeskRefused as refused:
        raise Refused(422, refused.code, f"error.{refused.code}") from None


_PRESENCES = ("free", "ringing", "talking", "wrapup", "paused", "offline")
_OUTCOMES = (
    "answered",
    "busy",
    "no_answer",
    "congestion",
    "failed",
    "unknown",
    "abandoned",
    "machine",
    "missed",
)


class _Presence:
    def __init__(self, state: dict[str, Any]) -> None:
        self.presence = state.get("presence", "offline")
        self.wrapup_until = state.get("wrapup_until")


def _reason_text(t: Translator, reason: str | None) -> str:
    if reason is None:
        return ""
    return t("pause.missed_call") if reason == "missed_call" else reason


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
