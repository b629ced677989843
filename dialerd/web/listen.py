"""Listening to an operator's live call (issue 13): Asterisk's ChanSpy on the supervisor's phone.

The console originates the supervisor's own phone (``console.supervisors[].device``) into
``ChanSpy`` on the operator's channels; once the supervisor answers they hear the call
(``listen``), or also speak to the operator alone (``whisper``) or to both (``barge``) when
the YAML allows it. Every value goes through the AMI checks (``pbx.actions.SpyRequest``),
the operator must be on a call, and each attempt is audited (who listened to whom, how).
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from dialerd.dialer.board import Operator
from dialerd.pbx.actions import SpyRequest
from dialerd.pbx.ami import PbxUnavailable
from dialerd.pbx.events import OriginateResult
from dialerd.store import audit
from dialerd.web.auth import Person, check_csrf, require
from dialerd.web.context import ConsoleContext, console
from dialerd.web.presence import Presence, view_of
from dialerd.web.render import HEADERS, translator
from dialerd.web.supervisor import me

log = structlog.get_logger("dialerd.console")
router = APIRouter()
Supervisor = Annotated[Person, Depends(require("supervisor"))]
RING_S = 30.0
MAX_BODY_BYTES = 4096


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=HEADERS
    )


class _Refused(Exception):
    def __init__(self, status: int, code: str, key: str) -> None:
        super().__init__(code)
        self.status, self.code, self.key = status, code, key


async def _asked(request: Request) -> tuple[object, object]:
    body = await request.body()
    try:
        asked = json.loads(body[:MAX_BODY_BYTES] or b"{}")
    except ValueError:
        asked = None
    if not isinstance(asked, dict):
        raise _Refused(400, "malformed", "error.bad_request")
    return asked.get("operator"), asked.get("mode", "listen")


def _target(ctx: ConsoleContext, who: Person, name: object, mode: object) -> tuple[Operator, str]:
    """The operator to listen to, and the supervisor's device; or why not."""
    allowed = me(ctx, who)
    if not allowed["device"]:
        raise _Refused(409, "no_device", "listen.no_device")
    if mode not in allowed["modes"]:
        raise _Refused(403, "mode_not_allowed", "listen.mode_not_allowed")
    operator = ctx.board().operators.get(name) if isinstance(name, str) else None
    if operator is None:
        raise _Refused(404, "no_operator", "listen.no_operator")
    if view_of(operator, ctx.clock()).presence is not Presence.TALKING:
        raise _Refused(409, "not_talking", "listen.not_talking")
    return operator, str(allowed["device"])


@router.post("/supervisor/listen", include_in_schema=False)
async def listen(request: Request, who: Supervisor) -> JSONResponse:
    ctx = console(request)
    t = translator(request, who.language, ctx.settings().console.language)
    check_csrf(request, who, None)
    try:
        name, mode = await _asked(request)
        operator, device = _target(ctx, who, name, mode)
        call_id = await _spy(ctx, who, operator, device, str(mode))
    except _Refused as refused:
        return _refused(refused.status, refused.code, t(refused.key))
    return JSONResponse(
        {"ok": True, "operator": operator.name, "mode": mode, "call_id": call_id},
        headers=HEADERS,
    )


async def _spy(ctx: ConsoleContext, who: Person, operator: Operator, device: str, mode: str) -> str:
    """Ring the supervisor into ChanSpy on the operator's channels (audited first)."""
    interface = (
        operator.settings.member_interface if operator.queue else operator.settings.dial_device
    )
    token = secrets.token_hex(4)
    request = SpyRequest(
        call_id=f"dialerd-spy-{token}",
        action_id=f"spy-{token}",
        device=device,
        spied=f"{interface}-",
        mode=mode,
        caller_id=f"Listen {operator.name} <{mode}>",
        timeout_s=RING_S,
    )
    await audit.record(
        ctx.db,
        user=who.user,
        action="listen",
        at=ctx.clock(),
        lead_id=operator.current.lead_id if operator.current is not None else None,
        target=operator.name,
        details={"mode": mode, "device": device, "call_id": request.call_id},
    )
    try:
        answer = await ctx.floor.spy(request)
    except ValueError:  # UnsafeAmiValue among them: nothing was sent
        log.warning("console_listen_unsafe", user=who.user, operator=operator.name)
        raise _Refused(422, "unsafe", "error.bad_request") from None
    except PbxUnavailable:
        raise _Refused(503, "pbx_unavailable", "error.pbx") from None
    except TimeoutError:
        raise _Refused(504, "no_answer", "listen.no_answer") from None
    answered = isinstance(answer, OriginateResult) and answer.success
    log.info("console_listen", user=who.user, operator=operator.name, mode=mode, answered=answered)
    if not answered:
        raise _Refused(409, "no_answer", "listen.no_answer")
    return request.call_id
