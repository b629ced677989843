"""A report as text: a rich table for people at a terminal, CSV and JSON for machines,
HTML (``reports/html.py``) for the owner's inbox."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from dialerd.reports.model import (
    METRIC_LABELS,
    METRIC_NAMES,
    MONEY,
    Metrics,
    Report,
    money_text,
)
from dialerd.reports.numbers import DASH, count, duration, durations, money, pct
from dialerd.store.report_facts import OUTCOMES

FORMATS = ("table", "csv", "json", "html")

# What a breakdown table shows (the terminal is narrow); CSV and JSON carry every metric.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("leads_received", "leads"),
    ("contact_rate", "contact rate"),
    ("answer_rate", "answer rate"),
    ("conversations", "conversations"),
    ("leads_confirmed", "confirmed"),
    ("confirmation_rate", "confirmation rate"),
    ("revenue", "revenue"),
    ("speed_to_lead_median_s", "speed to lead, median"),
    ("speed_to_lead_within_target", "within target"),
    ("aht_s", "handling time"),
    ("abandon_rate", "abandon"),
    ("machine_share", "machines"),
    ("nps", "NPS"),
    ("csat", "CSAT"),
    ("occupancy", "occupancy"),
    ("paused_s", "paused"),
)


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        from dialerd.reports.html import render_html

        return render_html(report)
    if fmt == "table":
        return to_table(report)
    raise ValueError(f"format: one of {', '.join(FORMATS)}, not {fmt!r}")


def csv_header(pause_reasons: Sequence[str] = ()) -> list[str]:
    """Every metric, the outcome mix, then paused seconds by each reason the report has."""
    return [
        "key",
        *METRIC_NAMES,
        *(f"outcome_{name}" for name in OUTCOMES),
        *(f"paused_s_{reason}" for reason in pause_reasons),
    ]


def csv_row(key: str, metrics: Metrics, pause_reasons: Sequence[str] = ()) -> list[str]:
    values = asdict(metrics)
    cells = ["" if values[name] is None else _plain(values[name], name) for name in METRIC_NAMES]
    paused = metrics.paused_s_by_reason if metrics.paused_s is not None else None
    return [
        key,
        *cells,
        *(str(metrics.outcomes.get(name, 0)) for name in OUTCOMES),
        *("" if paused is None else _plain(paused.get(r, 0.0), "paused_s") for r in pause_reasons),
    ]


def to_csv(report: Report) -> str:
    """The totals first (key ``total``), then one line per row of the breakdown. The pause
    reasons are the ones the period has (its totals'), so the columns vary by report."""
    reasons = list(report.totals.paused_s_by_reason)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(reasons))
    writer.writerow(csv_row("total", report.totals, reasons))
    for row in report.rows:
        writer.writerow(csv_row(row.key, row.metrics, reasons))
    return out.getvalue()


def _plain(value: object, name: str) -> str:
    """A CSV cell: money as a decimal string ("1299.90"), shares to 4 decimals (41.67 %),
    seconds, hours and ratios to 2: what a spreadsheet needs, not a float's 17 digits."""
    if not isinstance(value, float):
        return str(value)
    if name in MONEY:
        return money_text(value) or ""
    places = 4 if _is_share(name) else 2
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _is_share(name: str) -> bool:
    return name.endswith(("_rate", "_target", "_share", "occupancy", "service_level")) or name in (
        "fcr",
        "csat",
    )


def to_table(report: Report, width: int | None = None) -> str:
    """The totals, then the breakdown in as many tables side by side columns as ``width``
    holds (default: the terminal's, 80 when not a terminal), each starting with the key."""
    if width is None:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 80
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    period = report.period
    title = f"dialerd report {period.first_day} – {period.last_day} ({period.timezone})"
    totals = Table("metric", "value", title=title, title_justify="left")
    for name in METRIC_NAMES:
        value = human(name, getattr(report.totals, name))
        if name in MONEY and report.currency and value != DASH:
            value = f"{value} {report.currency}"
        totals.add_row(METRIC_LABELS[name], value)
    outcomes = ", ".join(f"{k} {v}" for k, v in report.totals.outcomes.items()) or "—"
    totals.add_row("outcome mix", outcomes)
    totals.add_row("paused by reason", durations(report.totals.paused_s_by_reason))
    console.print(totals)
    if report.caller_ids:
        numbers = Table("campaign", "caller ID", "attempts", "answer rate", "campaign's")
        for r in report.caller_ids:
            numbers.add_row(
                r.campaign,
                r.caller_id,
                str(r.attempts),
                human("answer_rate", r.answer_rate),
                human("answer_rate", r.campaign_answer_rate),
            )
        console.print(numbers)
    if report.by:
        for columns in _column_groups(report, width):
            table = Table(report.by)
            for name, label in columns:
                money_label = name in MONEY and report.currency
                table.add_column(
                    f"{label}, {report.currency}" if money_label else label, justify="right"
                )
            for row in report.rows:
                table.add_row(
                    row.key, *(human(name, getattr(row.metrics, name)) for name, _ in columns)
                )
            console.print(table)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


def _column_groups(report: Report, width: int) -> list[list[tuple[str, str]]]:
    """TABLE_COLUMNS cut into groups whose table fits ``width`` (borders and padding: 3 a
    column, plus the key's column)."""
    key_width = max([len(report.by or ""), *(len(row.key) for row in report.rows)]) + 4
    groups: list[list[tuple[str, str]]] = [[]]
    used = key_width
    for name, label in TABLE_COLUMNS:
        cells = [human(name, getattr(row.metrics, name)) for row in report.rows]
        need = max([min(len(label), 14), *(len(c) for c in cells)]) + 3
        if groups[-1] and used + need > width:
            groups.append([])
            used = key_width
        groups[-1].append((name, label))
        used += need
    return groups


def human(name: str, value: object) -> str:
    """A metric as a person reads it (``reports.numbers``)."""
    if value is None or isinstance(value, bool):
        return DASH if value is None else str(value)
    if isinstance(value, int):
        return count(value)
    assert isinstance(value, float)
    if _is_share(name):
        return pct(value)
    if name == "nps":  # a score from -100 to 100, not a share
        return f"{value:+.0f}" if round(value) else "0"
    if name.endswith("_s"):
        return duration(value)
    if name in ("revenue", "average_check", "cost", "cost_per_contact"):
        return money(value)
    return count(value) if value == int(value) else money(value)
