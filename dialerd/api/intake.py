"""Lead intake over HTTP: ``POST /leads`` (one lead) and ``POST /leads/batch`` (many).

Both routes read a request the same way (``_read``): the caller's token name, strict
JSON, the ``Idempotency-Key`` checked and fingerprinted, the settings and ``now`` of this
request. Each lead is checked here, at the edge (``_checked``), then committed by the
intake writer (``dialerd.api.writer``) with whatever else arrived meanwhile. A retry
with the same key gets the first answer, even if it would fail validation now.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
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
from dialerd.api.models import BatchOut, DuplicateOut, ErrorOut, LeadCreated, LeadIn, parse_time
from dialerd.api.routes import MALFORMED, UNAUTHORIZED, WRONG_FIELD, Routes, body_schema
from dialerd.api.writer import Answer, IntakeResult, KeyReused, Reply
from dialerd.config import Settings
from dialerd.intake.leads import Accepted, LeadInput, LeadRejected, validate_lead
from dialerd.store import idempotency
from dialerd.store.leads import JsonText, NewLead

router = Routes()

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
    400: MALFORMED,
    401: UNAUTHORIZED,
    413: {"model": ErrorOut, "description": "body or batch too large"},
    422: WRONG_FIELD,
}


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadCreated,
    responses={**_ERRORS, 409: {"model": DuplicateOut, "description": "a duplicate"}},
    openapi_extra=body_schema("LeadIn", parameters=[_IDEMPOTENCY_KEY]),
    summary="Add one lead",
)
async def create_lead(
    request: Request,
) -> JSONResponse:
    posted = await _read(request)
    lead = _checked(posted.raw, posted)
    if isinstance(lead, ApiError):
        raise await _unless_replay(posted, lead)
    return _send(await _submit(posted, [lead], _single_answer))


@router.post(
    "/leads/batch",
    response_model=BatchOut,
    responses=_ERRORS,
    openapi_extra=body_schema("BatchIn", parameters=[_IDEMPOTENCY_KEY]),
    summary="Add up to api.max_batch leads; one result per item, in order",
)
async def create_leads(
    request: Request,
) -> JSONResponse:
    posted = await _read(request)
    items = _batch_items(posted.raw, posted.settings.api.max_batch)
    rejected: dict[int, ApiError] = {}
    leads = []
    for index, item in enumerate(items):
        if index and not index % YIELD_EVERY:
            await asyncio.sleep(0)
        checked = _checked(item, posted)
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

    return _send(await _submit(posted, leads, answer))


# --- reading a request -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Posted:
    """An intake request as both routes read it."""

    ctx: ApiContext
    raw: Any  # the parsed JSON body
    key: idempotency.Key | None
    settings: Settings
    now: float


async def _read(request: Request) -> _Posted:
    ctx = context(request)
    who, key = caller(request), request.headers.get("idempotency-key")
    raw = parse_json(await request.body())
    ident = _key(who, key, request, raw)
    return _Posted(ctx, raw, ident, ctx.settings(), ctx.clock())


def _key(who: str, key: str | None, request: Request, raw: Any) -> idempotency.Key | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise invalid("Idempotency-Key", f"use 1-{MAX_KEY} printable ASCII characters")
    return idempotency.Key(who, key, idempotency.fingerprint("POST", request.url.path, raw))


def _checked(item: Any, posted: _Posted) -> NewLead | ApiError:
    """One lead as ready for intake, or the error that rejects it (and only it, in a batch)."""
    try:
        lead_in = LeadIn.model_validate(item)
        return validate_lead(_lead_input(lead_in, posted), posted.settings, posted.now)
    except ValidationError as exc:
        return from_validation(exc.errors())
    except LeadRejected as exc:
        return invalid(exc.field, exc.reason)
    except ApiError as exc:
        return exc


def _lead_input(lead: LeadIn, posted: _Posted) -> LeadInput:
    limit = posted.settings.api.max_json_field_bytes
    items = _json_field("items", lead.items, limit)
    metadata = _json_field("metadata", lead.metadata, limit)
    callback_at = None
    if lead.callback_at is not None:
        try:
            callback_at = parse_time(lead.callback_at, posted.ctx.policy().tz)
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
        timezone=lead.timezone,
        region=lead.region,
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


# --- answering -------------------------------------------------------------------------------


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


async def _submit(posted: _Posted, leads: list[NewLead], answer: Answer) -> Reply:
    try:
        return await posted.ctx.writer.submit(leads, answer, posted.key)
    except KeyReused:
        raise _key_reused() from None


def _key_reused() -> ApiError:
    return ApiError(
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was used for a different request; use a new key",
        "Idempotency-Key",
    )


async def _unless_replay(posted: _Posted, error: ApiError) -> ApiError:
    """A request that fails validation now may be the retry of one that passed (time moved on)."""
    key = posted.key
    if key is None:
        return error
    found = await idempotency.lookup_many(posted.ctx.reader.conn, [key])
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
