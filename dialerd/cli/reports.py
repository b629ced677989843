"""``dialerd report`` and ``dialerd staffing``: the owner's numbers from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialerd.cli.output import Column, add_format, console, print_json, print_rows, write_csv
from dialerd.config import LoadedConfig
from dialerd.reports.build import BREAKDOWNS, build_report
from dialerd.reports.model import Report
from dialerd.reports.period import PeriodError, asked
from dialerd.reports.render import FORMATS, render
from dialerd.store.sql import open_configured

Loader = Callable[[argparse.Namespace], LoadedConfig]


def add_report_commands(sub: Any, load: Loader) -> None:
    cmd = sub.add_parser(
        "report",
        help="the owner's numbers for a period (docs/metrics.md defines each)",
        description="Metrics of the leads that arrived and the calls made from --from to --to"
        " (whole days in the centre's time zone; default: today).",
    )
    _period_options(cmd)
    cmd.add_argument("--by", choices=BREAKDOWNS, help="break the numbers down by this")
    add_format(cmd, FORMATS)
    cmd.add_argument("--output", type=Path, help="write to this file instead of stdout")
    cmd.set_defaults(handler=lambda args: _report(args, load(args)))

    about = "operators needed by hour for the speed-to-lead target (Erlang C) vs staffed"
    cmd = sub.add_parser("staffing", help=about, description=about)
    _period_options(cmd)
    add_format(cmd)
    cmd.set_defaults(handler=lambda args: _staffing(args, load(args)))


def _period_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (default: today)")
    cmd.add_argument("--to", dest="last", help="last day, inclusive (default: --from)")
    cmd.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")


def _build(args: argparse.Namespace, loaded: LoadedConfig, by: str | None) -> Report | None:
    settings = loaded.settings
    now = time.time()
    try:
        period = asked(args.first, args.last, settings.window.timezone, now)
    except PeriodError as exc:
        print(f"dialerd: {args.handler_name}: --{exc}", file=sys.stderr)
        return None

    async def go() -> Report:
        async with open_configured(settings.store, create=False) as db:
            return await build_report(db, settings, period, by, now=now)

    return asyncio.run(go())


def _report(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    args.handler_name = "report"
    if args.output and not args.output.parent.is_dir():  # before the work, not after it
        print(
            f"dialerd: report: --output: directory {args.output.parent} does not exist",
            file=sys.stderr,
        )
        return 2
    report = _build(args, loaded, args.by)
    if report is None:
        return 2
    text = render(report, args.format)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"dialerd: report: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0


def _staffing(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    args.handler_name = "staffing"
    report = _build(args, loaded, None)
    if report is None:
        return 2
    settings = loaded.settings
    n_days = report.period.day_count
    hours = [
        {
            "hour": load.hour,
            "arrivals_per_hour": load.leads_received / n_days,
            "needed_operators": load.needed_operators,
            "staffed_operators": load.staffed_operators,
            "free_operators": load.free_operators,
        }
        for load in report.hourly_load
    ]
    basis = {
        "aht_s": report.totals.aht_s,
        "speed_to_lead_target_s": report.speed_to_lead_target_s,
        "target_share": settings.reports.staffing_target_share,
        "days": n_days,
    }
    if args.format == "json":
        print_json({"period": report.as_dict()["period"], **basis, "hours": hours})
        return 0
    rows: list[dict[str, Any]] = []
    for load, hour in zip(report.hourly_load, hours, strict=True):
        needed, staffed = load.needed_operators, load.staffed_operators
        short = None if needed is None or staffed >= needed else round(needed - staffed, 1)
        rows.append({**hour, "hour": f"{load.hour:02d}:00", "short": short})
    if args.format == "csv":
        write_csv(rows, STAFFING_COLUMNS)
        return 0
    aht = f"{basis['aht_s']:.0f} s" if basis["aht_s"] else "unknown (no conversations yet)"
    console().print(
        f"Staffing {report.period.first_day} – {report.period.last_day}: average handling"
        f" time {aht}; {settings.reports.staffing_target_share:.0%} of new leads dialed within"
        f" {report.speed_to_lead_target_s / 60:.0f} min (Erlang C)"
    )
    for row in rows:
        if row["needed_operators"] is None:
            row["needed_operators"] = "—"
    print_rows(rows, STAFFING_COLUMNS, "table", settings.policy.tz)
    return 0


STAFFING_COLUMNS = (
    Column("hour", "hour", "fixed"),
    Column("arrivals_per_hour", "leads/h", "number"),
    Column("needed_operators", "needed", "number"),
    Column("staffed_operators", "staffed", "number"),
    Column("free_operators", "free", "number"),
    Column("short", "short", "number"),
)
