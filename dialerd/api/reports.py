"""Report endpoints: the numbers of ``dialerd report``, from the same builder."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from dialerd.api.context import context
from dialerd.api.errors import invalid
from dialerd.api.models import ErrorOut
from dialerd.api.routes import UNAUTHORIZED, Routes
from dialerd.reports.build import BREAKDOWNS, build_report
from dialerd.reports.model import Period, Report
from dialerd.reports.period import PeriodError, asked

router = Routes()

MAX_DAYS = 3 * 366  # one request may not ask the store for decades

DateParam = Annotated[
    str | None,
    Query(
        max_length=10,
        description="YYYY-MM-DD, a day in the centre's time zone (default: today; to: from)",
    ),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    422: {"model": ErrorOut, "description": "a bad date or breakdown (the error names it)"},
}


@router.get(
    "/reports/summary",
    responses=_ERRORS,
    summary="The period's metrics (docs/metrics.md), as `dialerd report --format json` gives them",
)
async def summary(
    request: Request,
    first: Annotated[DateParam, Query(alias="from")] = None,
    last: Annotated[DateParam, Query(alias="to")] = None,
) -> JSONResponse:
    report = await _report(request, first, last, None)
    body = report.as_dict()
    return JSONResponse({"period": body["period"], "totals": body["totals"], "report": body})


@router.get(
    "/reports/breakdown",
    responses=_ERRORS,
    summary="The period's metrics by date, hour of day, group, operator or campaign",
)
async def breakdown(
    request: Request,
    by: Annotated[str, Query(max_length=20, description=" | ".join(BREAKDOWNS))],
    first: Annotated[DateParam, Query(alias="from")] = None,
    last: Annotated[DateParam, Query(alias="to")] = None,
) -> JSONResponse:
    if by not in BREAKDOWNS:
        raise invalid("by", f"one of {', '.join(BREAKDOWNS)}")
    report = await _report(request, first, last, by)
    body = report.as_dict()
    return JSONResponse(
        {"period": body["period"], "by": by, "totals": body["totals"], "rows": body["rows"]}
    )


async def _report(request: Request, first: str | None, last: str | None, by: str | None) -> Report:
    ctx = context(request)
    settings = ctx.settings()
    now = ctx.clock()
    period = _period(first, last, settings.window.timezone, now)
    return await build_report(ctx.reader, settings, period, by, now=now)


def _period(first: str | None, last: str | None, timezone: str, now: float) -> Period:
    try:
        period = asked(first, last, timezone, now)
    except PeriodError as exc:
        raise invalid(exc.option, exc.message) from None
    if period.day_count > MAX_DAYS:
        raise invalid("to", f"at most {MAX_DAYS} days per request")
    return period
