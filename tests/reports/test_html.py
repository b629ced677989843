"""``render_html`` without a browser: self-contained, escaped, every chart drawn from the
report's own numbers (bar heights proportional to the values), empty reports still render.
The charts are parsed as XML, so a stray unescaped ``<`` or ``&`` fails here too."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest
from support.sample_reports import (
    HOSTILE,
    contrast_with_white,
    empty_report,
    metrics,
    sample_report,
)
from support.sample_reports import svg_charts as charts

from dialerd.reports.charts import nice_scale
from dialerd.reports.html import count, duration, money, pct, render_html
from dialerd.reports.model import Report, Row, SpeedBucket


def bars(svg: ET.Element, series: str | None = None) -> list[tuple[float, float]]:
    """(value, drawn height) of each bar, in document order."""
    return [
        (float(r.get("data-value", "nan")), float(r.get("height", "nan")))
        for r in svg.iter("rect")
        if r.get("class") == "bar" and series in (None, r.get("data-series"))
    ]


def assert_proportional(pairs: list[tuple[float, float]]) -> None:
    scale = max(h for _, h in pairs) / max(v for v, _ in pairs)
    for value, height in pairs:
        assert height == pytest.approx(value * scale, abs=0.02), (value, height)


def hostile(report: Report, text: str) -> Report:
    """Every text that comes from data set to ``text``."""
    rows = [Row(text, r.metrics) for r in report.daily]
    totals = dataclasses.replace(report.totals, outcomes={text: 5, "busy": 2})
    return dataclasses.replace(
        report,
        by="campaign",
        rows=rows,
        operators=[Row(text, r.metrics) for r in report.operators],
        totals=totals,
        currency=text,
        period=dataclasses.replace(report.period, timezone=text),
    )


def test_page_is_self_contained() -> None:
    page = render_html(sample_report())

    for reference in (
        "http://",
        "https://",
        "src=",
        "href=",
        "@import",
        "url(",
        "<link",
        "<script",
    ):
        assert reference not in page.lower(), reference
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


@pytest.mark.parametrize(
    "text", [HOSTILE, '<img src=x onerror="alert(1)">', "A & B </svg></td> \"'"]
)
def test_every_text_from_data_is_escaped(text: str) -> None:
    page = render_html(hostile(sample_report(), text))

    assert text not in page
    assert "<script" not in page and "<img" not in page
    assert page.count("&lt;") >= 4 or "<" not in text
    charts(page)  # the SVG still parses: nothing broke out of a text or an attribute


def test_escaped_operator_name_still_reads_as_itself() -> None:
    page = render_html(sample_report())

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Zoë &amp; &quot;Co&quot;" in page


def test_daily_chart_has_a_bar_per_day_heights_proportional_and_the_contact_rate_line() -> None:
    report = sample_report()
    svg = charts(render_html(report))["chart-daily"]

    drawn = bars(svg)
    assert [v for v, _ in drawn] == [r.metrics.leads_confirmed for r in report.daily]
    assert_proportional(drawn)
    points = [c for c in svg.iter("circle") if c.get("data-series") == "contact rate"]
    rates = [r.metrics.contact_rate for r in report.daily]
    assert [float(c.get("data-value", "nan")) for c in points] == pytest.approx(rates)
    # higher rate, higher point (SVG y grows downwards)
    ys = [float(c.get("cy", "nan")) for c in points]
    assert sorted(range(len(ys)), key=ys.__getitem__) == sorted(
        range(len(rates)), key=lambda i: -(rates[i] or 0)
    )
    assert svg.find("title") is not None and svg.get("role") == "img"
    assert svg.get("aria-labelledby")


def test_daily_line_breaks_where_the_rate_is_unknown() -> None:
    report = sample_report()
    daily = list(report.daily)
    daily[2] = Row(daily[2].key, metrics(0, 0, 0.0, contact_rate=None))
    svg = charts(render_html(dataclasses.replace(report, daily=daily)))["chart-daily"]

    path = next(p for p in svg.iter("path") if p.get("data-series") == "contact rate")
    assert path.get("d", "").count("M") == 2
    assert len([c for c in svg.iter("circle")]) == len(daily) - 1


def test_hourly_chart_spans_the_busy_hours_with_load_and_operator_lines() -> None:
    report = sample_report()
    svg = charts(render_html(report))["chart-hourly"]

    attempts = bars(svg, "attempts")
    busy = [h for h in report.hourly_load if 7 <= h.hour <= 20]
    assert [v for v, _ in attempts] == [h.attempts for h in busy]
    assert [v for v, _ in bars(svg, "leads in")] == [h.leads_received for h in busy]
    assert [v for v, _ in bars(svg, "conversations")] == [h.conversations for h in busy]
    assert_proportional(bars(svg))  # one axis for all three
    lines = {p.get("data-series") for p in svg.iter("path")}
    assert lines == {"staffed operators", "needed operators"}


def test_hourly_chart_without_a_staffing_estimate_draws_no_needed_line() -> None:
    report = sample_report()
    loads = [dataclasses.replace(h, needed_operators=None) for h in report.hourly_load]
    svg = charts(render_html(dataclasses.replace(report, hourly_load=loads)))["chart-hourly"]

    assert {p.get("data-series") for p in svg.iter("path")} == {"staffed operators"}


def marker_x(svg: ET.Element) -> float:
    marker = next(line for line in svg.iter("line") if line.get("class") == "marker")
    return float(marker.get("x1", "nan"))


def bar_edges(svg: ET.Element) -> list[tuple[float, float]]:
    rects = [r for r in svg.iter("rect") if r.get("class") == "bar"]
    return [
        (float(r.get("x", "0")), float(r.get("x", "0")) + float(r.get("width", "0"))) for r in rects
    ]


def test_speed_to_lead_histogram_has_a_bar_per_bucket_and_the_target_between_them() -> None:
    report = sample_report()  # buckets ≤30s ≤1m ≤2m ≤5m ≤10m >10m, target 1m
    svg = charts(render_html(report))["chart-speed"]

    drawn = bars(svg)
    assert [v for v, _ in drawn] == [b.leads for b in report.speed_to_lead]
    assert_proportional(drawn)
    edges = bar_edges(svg)
    assert edges[1][1] < marker_x(svg) < edges[2][0]  # right after "≤ 1m"
    fills = [r.get("fill") for r in svg.iter("rect") if r.get("class") == "bar"]
    assert fills[0] == fills[1] != fills[2] == fills[5]

    later = charts(render_html(dataclasses.replace(report, speed_to_lead_target_s=90.0)))
    assert edges[2][0] < marker_x(later["chart-speed"]) < edges[2][1]  # inside "≤ 2m"


def test_outcome_mix_segments_are_proportional() -> None:
    report = sample_report()
    svg = charts(render_html(report))["chart-outcomes"]

    segments = [
        (float(r.get("data-value", "nan")), float(r.get("width", "nan")))
        for r in svg.iter("rect")
        if r.get("class") == "segment"
    ]
    assert sorted(v for v, _ in segments) == sorted(report.totals.outcomes.values())
    assert_proportional(segments)
    assert sum(w for _, w in segments) == pytest.approx(float(svg.get("width", "0")))


def test_chart_marks_contrast_with_the_white_card() -> None:
    """WCAG's 3:1 for graphics: every bar, segment and line, and the text drawn on them."""
    marks = 0
    for svg in charts(render_html(sample_report())).values():
        for element in svg.iter():
            kind = element.get("class")
            colour = element.get("fill") if kind in {"bar", "segment"} else element.get("stroke")
            if kind in {"bar", "segment", "line", "point", "marker"}:
                assert colour and contrast_with_white(colour) >= 3, (svg.get("id"), kind, colour)
                marks += 1
    assert marks > 60
    assert contrast_with_white("#ffffff") == 1  # and the check itself can fail


def test_league_table_ranks_by_confirmations_then_revenue() -> None:
    page = render_html(sample_report())
    league = page[page.index("Operator league table") :]

    names = ["Bogdan", "Zoë &amp;", "Anna Schmidt", "&lt;script&gt;", "Eve"]
    positions = [league.index(name) for name in names]
    assert positions == sorted(positions)


def test_breakdown_table_has_a_row_per_group_and_a_total() -> None:
    report = sample_report(by="operator")
    page = render_html(report)
    table = page[page.index("<h2>By operator</h2>") :]
    table = table[: table.index("</table>")]

    assert table.count("<tr>") == len(report.rows) + 2  # head, rows, total
    assert ">Total<" in table and money(report.totals.revenue) in table


def test_empty_report_renders_with_no_data_notes_and_dashes() -> None:
    page = render_html(empty_report())

    assert charts(page) == {}
    assert page.count('class="nodata"') == 6  # four charts, the league, the breakdown
    assert "No days in this period." in page
    assert ">—<" in page  # rates with no base
    assert page.rstrip().endswith("</html>")


def test_report_without_breakdown_leaves_the_section_out() -> None:
    page = render_html(sample_report(by=None))

    assert "By day" not in page and "Operator league table" in page


def test_speed_to_lead_with_only_the_beyond_bucket_still_draws() -> None:
    report = dataclasses.replace(sample_report(), speed_to_lead=[SpeedBucket(None, 7)])
    svg = charts(render_html(report))["chart-speed"]

    assert bars(svg) == [(7.0, pytest.approx(bars(svg)[0][1]))]


def test_numbers_are_formatted_for_people() -> None:
    assert pct(0.12345) == "12.3%" and pct(1.0) == "100.0%" and pct(None) == "—"
    assert money(1234567.891) == "1,234,567.89" and money(0.5) == "0.50" and money(None) == "—"
    assert count(12345) == "12,345" and count(None) == "—"
    assert duration(5.4) == "5s"
    assert duration(65) == "1m 05s"
    assert duration(120) == "2m"
    assert duration(3725) == "1h 02m"
    assert duration(None) == "—"

    page = render_html(sample_report())
    assert "22,824.95" in page  # the total revenue
    assert "37.1%" in page  # the total confirmation rate (89 / 240)
    assert "4m 05s" in page  # the AHT
    assert "Mon 23 Nov 2026 – Fri 27 Nov 2026" in page


@pytest.mark.parametrize(
    ("peak", "integer", "expected"),
    [
        (0, False, (1.0, 0.25)),
        (3, True, (3.0, 1.0)),
        (30, True, (30.0, 10.0)),
        (7.3, False, (8.0, 2.0)),
    ],
)
def test_axis_tops_are_round_and_above_the_data(
    peak: float, integer: bool, expected: tuple
) -> None:
    assert nice_scale(peak, integer) == expected
