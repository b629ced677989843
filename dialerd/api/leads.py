"""Lead endpoints: intake (single and batch), a lead with its calls, and the policy's reasoning."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dialerd.api.context import ApiContext, caller, context
from dialerd.api.errors import (
    MAX_JSON_DEPTH,
    ApiError,
    error_body,
    from_validation,
    invalid,
    parse_json,
    too_deep,
)
from dialerd.api.models import (
    BatchOut,
    DuplicateOut,
    ErrorOut,
    ExplainOut,
    LeadCreated,
    LeadIn,
    LeadOut,
    parse_time,
)
from dialerd.api.recordings import has_recording
from dialerd.api.routes import Routes
from dialerd.api.writer import IntakeResult, KeyReused, Reply
from dialerd.config import Settings
from dialerd.dialer.planning import decision_json
from dialerd.formats import decimal_amount, utc_iso, utc_iso_or_none
from dialerd.intake.leads import Accepted, LeadInput, LeadRejected, validate_lead
from dialerd.policy.pick import explain
from dialerd.store import dispositions as dispositions_store
from dialerd.store import idempotency
from dialerd.store import leads as store
from dialerd.store.leads import JsonText, NewLead

router = Routes()

LeadId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the lead's id")]
MAX_KEY = 200
# A batch's items are checked in slices, letting the loop run between them: the intake
# writer's SQLite calls (off the GIL, on the other core) then proceed while a batch is
# being checked, rather than each waiting for the whole batch.
YIELD_EVERY = 20
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "retrying with the same key (and token) returns the first answer; "
    "the same key with a different body: 422 idempotency_key_reused",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "malformed JSON"},
    401: {"model": ErrorOut, "description": "no or wrong bearer token"},
    413: {"model": ErrorOut, "description": "body or batch too large"},
    422: {"model": ErrorOut, "description": "a field is invalid (the error names it)"},
}


def body_schema(name: str, *, idempotent: bool = False) -> dict[str, Any]:
    """Declare the JSON body in /openapi.json; the handler parses it itself (strict JSON).

    The model's schema is added to the components by ``app.openapi``.
    """
    return {
        **({"parameters": [_IDEMPOTENCY_KEY]} if idempotent else {}),
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        },
    }


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadCreated,
    responses={**_ERRORS, 409: {"model": DuplicateOut, "description": "a duplicate"}},
    openapi_extra=body_schema("LeadIn", idempotent=True),
    summary="Add one lead",
)
async def create_lead(
    request: Request,
) -> JSONResponse:
    ctx = context(request)
    who, key = caller(request), request.headers.get("idempotency-key")
    raw = parse_json(await request.body())
    ident = _key(who, key, request, raw)
    settings, now = ctx.settings(), ctx.clock()
    try:
        lead_in = LeadIn.model_validate(raw)
        lead = validate_lead(_lead_input(lead_in, settings, ctx), settings, now)
    except ValidationError as exc:
        raise await _unless_replay(ctx, ident, from_validation(exc.errors())) from None
    except LeadRejected as exc:
        raise await _unless_replay(ctx, ident, invalid(exc.field, exc.reason)) from None
    except ApiError as exc:
        raise await _unless_replay(ctx, ident, exc) from None
    return _send(await _submit(ctx, [lead], _single_answer, ident))


@router.post(
    "/leads/batch",
    response_model=BatchOut,
    responses=_ERRORS,
    openapi_extra=body_schema("BatchIn", idempotent=True),
    summary="Add up to api.max_batch leads; one result per item, in order",
)
async def create_leads(
    request: Request,
) -> JSONResponse:
    ctx = context(request)
    who, key = caller(request), request.headers.get("idempotency-key")
    raw = parse_json(await request.body())
    ident = _key(who, key, request, raw)
    settings, now = ctx.settings(), ctx.clock()
    items = _batch_items(raw, settings.api.max_batch)
    rejected: dict[int, ApiError] = {}
    leads = []
    for index, item in enumerate(items):
        if index and not index % YIELD_EVERY:
            await asyncio.sleep(0)
        checked = _checked(item, settings, ctx, now)
        if isinstance(checked, ApiError):
            rejected[index] = checked
        else:
            leads.append(checked)

    def answer(results: list[IntakeResult]) -> tuple[int, dict[str, Any]]:
        out: list[dict[str, Any]] = []
        taken = iter(results)
        for index in range(len(items)):
            if index in rejected:
                out.append({"index": index, "status": 422, **rejected[index].body()})
            else:
                out.append({"index": index, **_item(next(taken))})
        counts = {"accepted": 0, "duplicates": 0, "rejected": len(rejected)}
        for item in out:
            if item["status"] == 201:
                counts["accepted"] += 1
            elif item["status"] == 409:
                counts["duplicates"] += 1
        return 200, {"results": out, **counts}

    return _send(await _submit(ctx, leads, answer, ident))


@router.get(
    "/leads/{lead_id}",
    response_model=LeadOut,
    responses={401: _ERRORS[401], 404: {"model": ErrorOut}},
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
        attempts=[
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
            }
            for a in attempts
        ],
        dispositions=[disposition_out(d) for d in results],
    )


@router.get(
    "/leads/{lead_id}/explain",
    response_model=ExplainOut,
    responses={401: _ERRORS[401], 404: {"model": ErrorOut}},
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


def _checked(item: Any, settings: Settings, ctx: ApiContext, now: float) -> NewLead | ApiError:
    """One batch item as a lead ready for intake, or the error that rejects it alone."""
    try:
        lead_in = LeadIn.model_validate(item)
        return validate_lead(_lead_input(lead_in, settings, ctx), settings, now)
    except ValidationError as exc:
        return from_validation(exc.errors())
    except LeadRejected as exc:
        return invalid(exc.field, exc.reason)
    except ApiError as exc:
        return exc


def _lead_input(lead: LeadIn, settings: Settings, ctx: ApiContext) -> LeadInput:
    limit = settings.api.max_json_field_bytes
    items = _json_field("items", lead.items, limit)
    metadata = _json_field("metadata", lead.metadata, limit)
    callback_at = None
    if lead.callback_at is not None:
        try:
            callback_at = parse_time(lead.callback_at, ctx.policy().tz)
        except ValueError as exc:
            raise invalid("callback_at", str(exc)) from None
    return LeadInput(
        phone=lead.phone,
        order_id=lead.order_id,
        name=lead.name,
        amount=lead.amount,
        campaign=lead.campaign,
        comment=lead.comment,
        callback_at=callback_at,
        source="api",
        items=items,
        metadata=metadata,
    )


def _json_field(name: str, value: Any, limit: int) -> JsonText | None:
    """A free-form field as the JSON text to store, encoded once: its size is checked on it."""
    if value is None:
        return None
    text = json.dumps(value)
    if len(text) > limit:
        raise invalid(name, f"is larger than {limit} bytes of JSON (api.max_json_field_bytes)")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and too_deep(value):
        raise invalid(name, f"is nested deeper than {MAX_JSON_DEPTH} levels")
    return JsonText(text)


def _batch_items(raw: Any, max_batch: int) -> list[Any]:
    if not isinstance(raw, dict):
        raise invalid(None, 'the body must be a JSON object: {"leads": [...]}')
    for name in raw:
        if name != "leads":
            raise invalid(str(name)[:64], "is not a known field")
    if "leads" not in raw:
        raise invalid("leads", "is required")
    items = raw["leads"]
    if not isinstance(items, list):
        raise invalid("leads", "must be a JSON array")
    if len(items) > max_batch:
        raise ApiError(
            413,
            "batch_too_large",
            f"{len(items)} leads; at most {max_batch} per batch (api.max_batch)",
            "leads",
        )
    return items


def _item(result: IntakeResult) -> dict[str, Any]:
    if isinstance(result, Accepted):
        return {"status": 201, **_created(result)}
    return {
        "status": 409,
        "duplicate_of": result.duplicate_of,
        "rule": result.rule.value,
        **error_body(
            "duplicate", f"duplicate of lead {result.duplicate_of} (rule {result.rule.value})"
        ),
    }


def _created(result: Accepted) -> dict[str, Any]:
    closed = result.closed_as is not None
    return {
        "lead_id": result.lead_id,
        "state": "closed" if closed else "waiting",
        "close_reason": result.closed_as.value if result.closed_as is not None else None,
    }


def _single_answer(results: list[IntakeResult]) -> tuple[int, dict[str, Any]]:
    (result,) = results
    item = _item(result)
    return item.pop("status"), item


def _key(who: str, key: str | None, request: Request, raw: Any) -> idempotency.Key | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise invalid("Idempotency-Key", f"use 1-{MAX_KEY} printable ASCII characters")
    return idempotency.Key(who, key, idempotency.fingerprint("POST", request.url.path, raw))


async def _submit(ctx: ApiContext, leads: list[Any], answer: Any, key: Any) -> Reply:
    try:
        return await ctx.writer.submit(leads, answer, key)
    except KeyReused:
        raise _key_reused() from None


def _key_reused() -> ApiError:
    return ApiError(
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was used for a different request; use a new key",
        "Idempotency-Key",
    )


async def _unless_replay(ctx: ApiContext, key: idempotency.Key | None, error: ApiError) -> Any:
    """A request that fails validation now may be the retry of one that passed (time moved on)."""
    if key is None:
        return error
    found = await idempotency.lookup_many(ctx.reader.conn, [key])
    stored = found.get((key.token_name, key.key))
    if stored is None:
        return error
    if stored.fingerprint != key.fingerprint:
        return _key_reused()
    return _Replayed(Reply(stored.status, stored.body, replayed=True))


class _Replayed(ApiError):
    """Raised like an error, answered with the stored reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status, "replayed", "replayed")
        self.reply = reply

    def response(self) -> JSONResponse:
        return _send(self.reply)


def _send(reply: Reply) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def disposition_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
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
