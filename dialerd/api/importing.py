"""``POST /leads/import``: a CSV or XLSX file as the request body, the import's summary back.

The same import as ``dialerd leads import`` (``dialerd.intake.importing``): the body is
the file itself (``text/csv`` or the XLSX type, no multipart), options are query
parameters. The body is spooled to an anonymous temporary file as it arrives (up to
``api.max_import_bytes``, not ``max_body_bytes``: the Guard lets this route read its own),
then read row by row. Batches go through the intake writer like any POST, so an import
shares commits with the website's leads rather than holding the store, and each commit
wakes the engine.
"""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from dialerd.api.context import context
from dialerd.api.errors import ApiError, invalid
from dialerd.api.models import ErrorOut, ImportOut
from dialerd.api.routes import UNAUTHORIZED, Routes
from dialerd.api.writer import IntakeResult
from dialerd.intake.importing import (
    FIELDS,
    ImportRefused,
    import_sheet,
    map_columns,
    parse_map,
    trial_commit,
)
from dialerd.intake.sheets import SheetError, open_sheet
from dialerd.store.leads import NewLead

router = Routes()

BATCH = 1000  # rows per commit: the engine's own writes wait at most one of these
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_QUERY = [
    {
        "name": "campaign",
        "in": "query",
        "required": False,
        "description": "the campaign of rows without a campaign column value",
        "schema": {"type": "string"},
    },
    {
        "name": "dry_run",
        "in": "query",
        "required": False,
        "description": "check every row and answer the summary; store nothing",
        "schema": {"type": "boolean", "default": False},
    },
    {
        "name": "map",
        "in": "query",
        "required": False,
        "description": "COLUMN=FIELD, repeatable: feed a column to a field "
        f"({', '.join(FIELDS)}, metadata.KEY), or ignore it (COLUMN=-)",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
]
_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/leads/import",
    response_model=ImportOut,
    responses={
        401: UNAUTHORIZED,
        413: {"model": ErrorOut, "description": "the file exceeds api.max_import_bytes"},
        422: {"model": ErrorOut, "description": "no phone column, a bad map or campaign"},
    },
    openapi_extra={"parameters": _QUERY, "requestBody": _BODY},
    summary="Import a CSV or XLSX file of leads; the summary of what became of each row",
)
async def import_leads(request: Request) -> JSONResponse:
    ctx = context(request)
    settings, now = ctx.settings(), ctx.clock()
    limit = settings.api.max_import_bytes
    query = request.query_params
    campaign = query.get("campaign")
    if campaign is not None and campaign not in settings.campaigns:
        known = ", ".join(sorted(settings.campaigns))
        raise invalid("campaign", f"unknown campaign {campaign!r} (configured: {known})")
    dry_run = query.get("dry_run", "false").lower() in {"true", "1", "yes"}
    try:
        overrides = parse_map(query.getlist("map"))
    except ImportRefused as exc:
        raise invalid("map", str(exc).removeprefix("--map ")) from None
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    name = "upload.xlsx" if "spreadsheetml" in request.headers.get("content-type", "") else ""

    async def commit(leads: list[NewLead]) -> list[IntakeResult]:
        reply = await ctx.writer.submit(leads, lambda results: (200, {"results": results}))
        found: list[IntakeResult] = reply.body["results"]
        return found

    with tempfile.TemporaryFile() as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            spool.write(chunk)
        if not size:
            raise invalid(None, "the body is empty: send the CSV or XLSX file as the body")
        spool.seek(0)
        try:
            with open_sheet(spool, name) as sheet:
                columns = map_columns(sheet.header, overrides)
                summary = await import_sheet(
                    sheet,
                    columns,
                    settings,
                    now,
                    trial_commit(ctx.db, settings, now) if dry_run else commit,
                    campaign=campaign,
                    dry_run=dry_run,
                    batch_size=BATCH,
                )
        except (ImportRefused, SheetError) as exc:
            raise invalid(None, str(exc)) from None
    body: dict[str, Any] = summary.as_json()
    return JSONResponse(body)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the file exceeds {limit} bytes (api.max_import_bytes)")
