"""Call endpoints: the operator's result (disposition) and the recording."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from dialerd.api.context import ApiContext, context
from dialerd.api.errors import ApiError, from_validation, invalid, parse_json
from dialerd.api.models import DispositionIn, DispositionRecorded, ErrorOut, parse_time
from dialerd.api.recordings import locate, media_type
from dialerd.api.routes import MALFORMED, UNAUTHORIZED, WRONG_FIELD, Routes, body_schema
from dialerd.formats import decimal_amount, utc_iso, utc_iso_or_none
from dialerd.intake.leads import LeadRejected, parse_amount
from dialerd.policy.disposition import Disposition, DispositionConflict, DispositionInvalid
from dialerd.store import calls as calls_store
from dialerd.store import dispositions as store

router = Routes()

CallId = Annotated[
    str,
    Path(
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="the attempt's call id (its AMI ChannelId), as GET /api/v1/leads/{id} lists",
    ),
]
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@router.post(
    "/calls/{call_id}/disposition",
    status_code=201,
    response_model=DispositionRecorded,
    responses={
        200: {"model": DispositionRecorded, "description": "the same result again: replayed"},
        400: MALFORMED,
        401: UNAUTHORIZED,
        404: {"model": ErrorOut, "description": "no such call"},
        409: {
            "model": ErrorOut,
            "description": "the call cannot take this result: call_in_progress, not_answered,"
            " disposition_exists, lead_dialing, attempt_cap_reached",
        },
        422: WRONG_FIELD,
    },
    openapi_extra=body_schema("DispositionIn"),
    summary="Record the operator's result of an answered call",
)
async def record_disposition(call_id: CallId, request: Request) -> JSONResponse:
    ctx = context(request)
    raw = parse_json(await request.body())
    try:
        body = DispositionIn.model_validate(raw)
    except ValidationError as exc:
        raise from_validation(exc.errors()) from None
    policy = ctx.policy()
    try:
        amount = parse_amount(body.amount)
    except LeadRejected as exc:
        raise invalid("amount", exc.reason) from None
    try:
        at = parse_time(body.at, policy.tz) if body.at is not None else None
    except ValueError as exc:
        raise invalid("at", str(exc)) from None
    if body.note is not None and _CONTROL_EXCEPT_NEWLINES.search(body.note):
        raise invalid("note", "contains a control character")
    if body.operator is not None and _CONTROL.search(body.operator):
        raise invalid("operator", "contains a control character (CR, LF, NUL, ...)")
    disposition = Disposition(
        result=body.result,
        amount_minor=amount,
        callback_at=at,
        note=(body.note.strip() or None) if body.note is not None else None,
        flags=tuple(body.flags),
        operator=(body.operator.strip() or None) if body.operator is not None else None,
    )
    try:
        recorded = await store.record(ctx.db, call_id, disposition, policy, ctx.clock())
    except DispositionInvalid as exc:
        raise invalid(exc.field, exc.reason) from None
    except DispositionConflict as exc:
        raise ApiError(409, exc.code, exc.reason) from None
    except store.CallNotFound:
        raise ApiError(404, "not_found", f"no call {call_id}") from None
    if not recorded.replayed:
        await _after_result(ctx, call_id, disposition)
    return JSONResponse(_out(recorded), status_code=200 if recorded.replayed else 201)


@router.get(
    "/calls/{call_id}/recording",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/wav": {}, "audio/mpeg": {}}, "description": "the recording"},
        401: UNAUTHORIZED,
        404: {"model": ErrorOut, "description": "no such call, or no recording"},
    },
    summary="Download the call's recording",
)
async def get_recording(call_id: CallId, request: Request) -> FileResponse:
    ctx = context(request)
    found = await calls_store.call_files(ctx.reader, call_id)
    if found is None:
        raise ApiError(404, "not_found", f"no call {call_id}")
    directory = ctx.settings().api.recordings_dir
    if directory is None:
        raise ApiError(404, "no_recording", "recordings are not configured (api.recordings_dir)")
    path = locate(directory, found.recording_path, call_id)
    if path is None:
        raise ApiError(404, "no_recording", f"call {call_id} has no recording")
    return FileResponse(path, media_type=media_type(path), filename=path.name)


async def _after_result(ctx: ApiContext, call_id: str, disposition: Disposition) -> None:
    """A new result: a callback (or a confirmation's survey call) changes the engine's next
    due time, and the operator's after-call work ends with the result, as on the console."""
    if disposition.result.value in ("callback", "confirmed"):
        ctx.wake()
    found = await calls_store.call_files(ctx.reader, call_id)
    operator = disposition.operator or (found.operator if found is not None else None) or None
    if operator is not None:
        ctx.result_recorded(operator)


def _out(recorded: store.Recorded) -> dict[str, Any]:
    d = recorded.disposition
    return {
        "disposition_id": recorded.disposition_id,
        "lead_id": recorded.lead_id,
        "call_id": recorded.call_id,
        "result": d.result.value,
        "amount": decimal_amount(d.amount_minor),
        "at": utc_iso_or_none(d.callback_at),
        "note": d.note,
        "flags": list(d.flags),
        "operator": d.operator,
        "created_at": utc_iso(recorded.created_at),
        "wrapup_s": recorded.wrapup_s,
        "lead_state": recorded.lead_state,
        "close_reason": recorded.close_reason,
        "replayed": recorded.replayed,
    }
