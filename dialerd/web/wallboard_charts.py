"""The wallboard's two charts, drawn by the reports' own SVG code from today's report.

- Calls and conversations by hour today (bars) against staffed and needed operators (the
  report's staffing numbers: mean logged-in operators, and the Erlang C estimate for the
  speed-to-lead target), so a supervisor sees the hour that is short of people.
- Speed to lead by hour: the median and p90 of the leads whose clock started that hour,
  against the target.

Every word comes from the person's catalog. The reports' SVG carries its font in a
``style`` attribute, which the console's Content-Security-Policy (no inline style) would
refuse and log as an error: it is dropped here and the font comes from ``console.css``.
"""

from __future__ import annotations

from dialerd.reports import charts
from dialerd.reports.charts import Axis, Series
from dialerd.reports.model import HourLoad, Report
from dialerd.reports.numbers import count, decimal
from dialerd.web.i18n import Translator

BARS = ("#3b82f6", "#1e3a8a")
STAFFED, NEEDED, TARGET, P90 = "#047857", "#b91c1c", "#111827", "#c2410c"
_STYLE = f' style="{charts.FONT}"'


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60.0


def render(report: Report, t: Translator, current_hour: int, open_hour: int) -> str:
    """Both charts as one HTML fragment (inline SVG, no script, no style attribute)."""
    hours = _span(report, current_hour, open_hour)
    by_hour = {h.hour: h for h in report.hourly_load}
    loads = [by_hour.get(hour, HourLoad(hour, 0, 0, 0, 0.0, 0.0, None)) for hour in hours]
    labels = [f"{hour:02d}" for hour in hours]
    needed = [None if h.needed_operators is None else float(h.needed_operators) for h in loads]
    lines = [
        Series(
            t("wb.chart_staffed"), [h.staffed_operators for h in loads], STAFFED, decimal, step=True
        )
    ]
    if any(n is not None for n in needed):
        lines.append(Series(t("wb.chart_needed"), needed, NEEDED, count, dashed=True, step=True))
    calls = charts.combo(
        "wb-chart-calls",
        t("wb.chart_calls_title"),
        t("wb.chart_calls_desc"),
        labels,
        [
            Series(t("wb.chart_attempts"), [float(h.attempts) for h in loads], BARS[0], count),
            Series(
                t("wb.chart_conversations"), [float(h.conversations) for h in loads], BARS[1], count
            ),
        ],
        lines,
        Axis(t("wb.chart_calls_axis"), count, integer=True),
        Axis(t("wb.chart_operators_axis"), decimal),
    )
    rows = {row.key: row.metrics for row in report.rows}
    medians = [
        _minutes(rows[label].speed_to_lead_median_s) if label in rows else None for label in labels
    ]
    p90s = [
        _minutes(rows[label].speed_to_lead_p90_s) if label in rows else None for label in labels
    ]
    target = report.speed_to_lead_target_s / 60.0
    speed = charts.combo(
        "wb-chart-speed",
        t("wb.chart_speed_title"),
        t("wb.chart_speed_desc", target=decimal(target)),
        labels,
        [Series(t("wb.chart_median"), medians, BARS[0], decimal)],
        [
            Series(t("wb.chart_p90"), p90s, P90, decimal),
            Series(
                t("wb.chart_target"),
                [target] * len(labels),
                TARGET,
                decimal,
                dashed=True,
                step=True,
            ),
        ],
        Axis(t("wb.chart_minutes_axis"), decimal),
    )
    return (calls + speed).replace(_STYLE, "")


def _span(report: Report, current_hour: int, open_hour: int) -> list[int]:
    busy = [
        h.hour
        for h in report.hourly_load
        if h.attempts or h.leads_received or h.staffed_operators or h.conversations
    ]
    first = max(open_hour, min([current_hour, *busy]))
    last = max([current_hour, *busy])
    first = max(0, min(first, last - 5))  # at least six hours: a trend, not a bar
    return list(range(first, last + 1))
