"""Charts as inline SVG drawn in Python (issue 6): a report opened from an e-mail or a file
shows its charts with no script, no CDN and no network. Geometry only; the caller passes the
labels already formatted for people, so the numbers read the same as in the tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 900
HEIGHT = 300
GRID = "#e5e7eb"
AXIS_TEXT = "#4b5563"
INK = "#111827"
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif"


@dataclass(frozen=True)
class Series:
    """One named row of values; ``None`` is a gap (a rate with no denominator)."""

    name: str
    values: Sequence[float | None]
    colour: str
    fmt: Callable[[float], str]
    dashed: bool = False
    step: bool = False  # hold the value across the whole column (staffing), not a point


@dataclass(frozen=True)
class Axis:
    name: str
    fmt: Callable[[float], str]
    top: float | None = None  # fixed (1.0 for shares); else a round number above the data
    integer: bool = False  # counts: no tick at 0.5


@dataclass(frozen=True)
class Segment:
    label: str
    value: int
    colour: str
    note: str  # the tooltip's value, e.g. "120 (12.0%)"


def _a(value: object) -> str:
    """Escape data for both text and attribute positions (SVG is parsed as XML in tests)."""
    return escape(str(value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def nice_scale(peak: float, integer: bool = False) -> tuple[float, float]:
    """A round axis top at or above ``peak`` and its tick step (about four ticks)."""
    if peak <= 0:
        return (4.0, 1.0) if integer else (1.0, 0.25)
    raw = peak / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    return math.ceil(peak / step - 1e-9) * step, step


def _open(chart_id: str, title: str, desc: str, height: int) -> str:
    return (
        f'<svg id="{_a(chart_id)}" class="chart" role="img" '
        f'aria-labelledby="{_a(chart_id)}-t {_a(chart_id)}-d" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" style="{FONT}">'
        f'<title id="{_a(chart_id)}-t">{_a(title)}</title>'
        f'<desc id="{_a(chart_id)}-d">{_a(desc)}</desc>'
    )


def _legend(entries: Sequence[tuple[str, str, str]], x: float, y: float) -> str:
    """Entries are (name, colour, kind) with kind "bar", "line" or "dashed"."""
    out = []
    for name, colour, kind in entries:
        if kind == "bar":
            out.append(
                f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="12" fill="{colour}"/>'
            )
        else:
            dash = ' stroke-dasharray="6 4"' if kind == "dashed" else ""
            out.append(
                f'<line x1="{x:.1f}" y1="{y - 3:.1f}" x2="{x + 18:.1f}" y2="{y - 3:.1f}" '
                f'stroke="{colour}" stroke-width="3"{dash}/>'
            )
        width = 18 if kind != "bar" else 12
        out.append(
            f'<text x="{x + width + 6:.1f}" y="{y + 1:.1f}" font-size="12" fill="{INK}">'
            f"{_a(name)}</text>"
        )
        x += width + 6 + 7.2 * len(name) + 22
    return "".join(out)


def _ticks(axis: Axis, peak: float) -> tuple[float, list[float]]:
    if axis.top is not None:
        top, step = axis.top, axis.top / 4
    else:
        top, step = nice_scale(peak, axis.integer)
    return top, [i * step for i in range(round(top / step) + 1)]


@dataclass(frozen=True)
class Plot:
    """The drawing area inside the axes; values map to y with the axis top at ``top``."""

    left: float
    right: float
    top: float = 40.0
    bottom: float = HEIGHT - 36.0

    def y(self, value: float, top: float) -> float:
        return self.bottom - (value / top) * (self.bottom - self.top) if top else self.bottom

    def band(self, n: int) -> float:
        return (self.right - self.left) / max(n, 1)


def _grid(plot: Plot, axis: Axis, top: float, ticks: Sequence[float]) -> str:
    """Left-axis gridlines and tick labels, and the axis' name above them."""
    out = [
        f'<text x="12" y="{plot.top - 12}" font-size="11" fill="{AXIS_TEXT}">{_a(axis.name)}</text>'
    ]
    for tick in ticks:
        y = plot.y(tick, top)
        out.append(
            f'<line x1="{plot.left}" y1="{y:.1f}" x2="{plot.right}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{plot.left - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{AXIS_TEXT}">{_a(axis.fmt(tick))}</text>'
        )
    return "".join(out)


def _right_axis(plot: Plot, axis: Axis, top: float, ticks: Sequence[float]) -> str:
    out = [
        f'<text x="{WIDTH - 12}" y="{plot.top - 12}" font-size="11" text-anchor="end" '
        f'fill="{AXIS_TEXT}">{_a(axis.name)}</text>'
    ]
    for tick in ticks:
        out.append(
            f'<text x="{plot.right + 8}" y="{plot.y(tick, top) + 4:.1f}" font-size="11" '
            f'fill="{AXIS_TEXT}">{_a(axis.fmt(tick))}</text>'
        )
    return "".join(out)


def _baseline(plot: Plot) -> str:
    return (
        f'<line x1="{plot.left}" y1="{plot.bottom}" x2="{plot.right}" y2="{plot.bottom}" '
        f'stroke="{AXIS_TEXT}"/>'
    )


def _peak(series: Sequence[Series]) -> float:
    return max((v for s in series for v in s.values if v is not None), default=0.0)


def combo(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    bars: Sequence[Series],
    lines: Sequence[Series],
    left: Axis,
    right: Axis | None = None,
    value_labels: bool = False,
) -> str:
    """Columns (one group per label) on the left axis, lines on the right one (or the left).

    Each column also gets a transparent hover box whose tooltip lists every series, so a
    reader points at a day or an hour and reads all its numbers at once.
    """
    plot = Plot(58.0, WIDTH - (58.0 if right else 16.0))
    l_top, l_ticks = _ticks(left, _peak(bars) if right else max(_peak(bars), _peak(lines)))
    out = [_open(chart_id, title, desc, HEIGHT), _grid(plot, left, l_top, l_ticks)]
    r_top = l_top
    if right:
        r_top, r_ticks = _ticks(right, _peak(lines))
        out.append(_right_axis(plot, right, r_top, r_ticks))
    legend = [(s.name, s.colour, "bar") for s in bars]
    legend += [(s.name, s.colour, "dashed" if s.dashed else "line") for s in lines]
    out.append(_legend(legend, plot.left + 70, 16))
    out.append(_columns(plot, labels, bars, l_top, value_labels))
    out.append(_baseline(plot))
    band = plot.band(len(labels))
    out.extend(_line(s, plot.left, band, lambda v: plot.y(v, r_top)) for s in lines)
    for i, label in enumerate(labels):
        parts = [label] + [
            f"{s.name}: {'—' if s.values[i] is None else s.fmt(s.values[i] or 0.0)}"
            for s in (*bars, *lines)
        ]
        out.append(
            f'<rect class="hover" x="{plot.left + i * band:.2f}" y="{plot.top}" '
            f'width="{band:.2f}" height="{plot.bottom - plot.top}" fill="transparent">'
            f"<title>{_a(chr(10).join(parts))}</title></rect>"
        )
    out.append("</svg>")
    return "".join(out)


def _columns(
    plot: Plot, labels: Sequence[str], bars: Sequence[Series], top: float, value_labels: bool
) -> str:
    """Grouped bars and the x labels (every k-th one when they would overlap)."""
    band = plot.band(len(labels))
    longest = max((len(t) for t in labels), default=1)
    every = max(1, math.ceil(len(labels) * (6.5 * longest + 10) / (plot.right - plot.left)))
    group = band * (0.72 if len(bars) > 1 else 0.62)
    width = group / max(len(bars), 1)
    out = []
    for i, label in enumerate(labels):
        x0 = plot.left + i * band + (band - group) / 2
        for j, series in enumerate(bars):
            value = series.values[i] or 0.0
            y = plot.y(value, top)
            out.append(
                f'<rect class="bar" data-series="{_a(series.name)}" data-value="{value:g}" '
                f'x="{x0 + j * width:.2f}" y="{y:.2f}" width="{max(width - 1, 1):.2f}" '
                f'height="{plot.bottom - y:.2f}" fill="{series.colour}" rx="1.5"/>'
            )
            if value_labels and value:
                out.append(
                    f'<text x="{x0 + (j + 0.5) * width:.1f}" y="{y - 5:.1f}" font-size="11" '
                    f'text-anchor="middle" fill="{INK}">{_a(series.fmt(value))}</text>'
                )
        if i % every == 0:
            out.append(
                f'<text x="{plot.left + (i + 0.5) * band:.1f}" y="{plot.bottom + 18}" '
                f'font-size="11" text-anchor="middle" fill="{AXIS_TEXT}">{_a(label)}</text>'
            )
    return "".join(out)


def _line(series: Series, left_x: float, band: float, y_of: Callable[[float], float]) -> str:
    """A path with a gap at each ``None``; points get a dot unless the line is a step."""
    d: list[str] = []
    dots: list[str] = []
    pen_up = True
    for i, value in enumerate(series.values):
        if value is None:
            pen_up = True
            continue
        y = y_of(value)
        if series.step:
            x0, x1 = left_x + i * band, left_x + (i + 1) * band
            d.append(f"{'M' if pen_up else 'L'}{x0:.1f},{y:.1f}L{x1:.1f},{y:.1f}")
        else:
            x = left_x + (i + 0.5) * band
            d.append(f"{'M' if pen_up else 'L'}{x:.1f},{y:.1f}")
            dots.append(
                f'<circle class="point" data-series="{_a(series.name)}" data-value="{value:g}" '
                f'cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{series.colour}" '
                f'stroke-width="2"/>'
            )
        pen_up = False
    if not d:
        return ""
    dash = ' stroke-dasharray="6 4"' if series.dashed else ""
    return (
        f'<path class="line" data-series="{_a(series.name)}" d="{"".join(d)}" fill="none" '
        f'stroke="{series.colour}" stroke-width="2.5" stroke-linejoin="round"{dash}/>'
        + "".join(dots)
    )


def histogram(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[int],
    good: Sequence[bool],
    notes: Sequence[str],
    marker_at: float | None,
    marker_label: str,
    colours: tuple[str, str],
) -> str:
    """Bars over categories, coloured by ``good``; a dashed marker at ``marker_at`` bands
    from the left (the target between bucket edges), each bar labelled with its count."""
    plot = Plot(58.0, WIDTH - 16.0)
    band = plot.band(len(labels))
    axis = Axis("leads", _n, integer=True)
    top, ticks = _ticks(axis, max(values, default=0))
    out = [_open(chart_id, title, desc, HEIGHT), _grid(plot, axis, top, ticks)]
    out.append(
        _legend([("within target", colours[0], "bar"), ("later", colours[1], "bar")], 140, 16)
    )
    for i, (label, value, ok, note) in enumerate(zip(labels, values, good, notes, strict=True)):
        y = plot.y(value, top)
        x, middle = plot.left + (i + 0.12) * band, plot.left + (i + 0.5) * band
        out.append(
            f'<rect class="bar" data-value="{value}" x="{x:.2f}" y="{y:.2f}" '
            f'width="{band * 0.76:.2f}" height="{plot.bottom - y:.2f}" rx="1.5" '
            f'fill="{colours[0] if ok else colours[1]}"><title>{_a(note)}</title></rect>'
            f'<text x="{middle:.1f}" y="{plot.bottom + 18}" font-size="11" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{_a(label)}</text>'
        )
        if value:
            out.append(
                f'<text x="{middle:.1f}" y="{y - 5:.1f}" font-size="11" '
                f'text-anchor="middle" fill="{INK}">{value:,}</text>'
            )
    out.append(_baseline(plot))
    if marker_at is not None:
        x = plot.left + marker_at * band
        anchor, shift = ("end", -6) if marker_at > len(labels) / 2 else ("start", 6)
        out.append(
            f'<line class="marker" x1="{x:.1f}" y1="{plot.top - 6}" x2="{x:.1f}" '
            f'y2="{plot.bottom}" stroke="{INK}" stroke-width="2" stroke-dasharray="5 4"/>'
            f'<text x="{x + shift:.1f}" y="{plot.top + 6}" font-size="12" font-weight="600" '
            f'text-anchor="{anchor}" fill="{INK}">{_a(marker_label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked(chart_id: str, title: str, desc: str, segments: Sequence[Segment]) -> str:
    """One 100% bar: the shares of a whole (the outcome mix), labelled where they fit."""
    height = 56
    total = sum(s.value for s in segments) or 1
    out = [_open(chart_id, title, desc, height)]
    x = 0.0
    for segment in segments:
        width = segment.value / total * WIDTH
        out.append(
            f'<rect class="segment" data-value="{segment.value}" x="{x:.2f}" y="8" '
            f'width="{width:.2f}" height="40" fill="{segment.colour}">'
            f"<title>{_a(segment.label)}: {_a(segment.note)}</title></rect>"
        )
        share = f"{segment.value / total * 100:.0f}%"
        if width > 7.5 * len(share) + 10:
            out.append(
                f'<text x="{x + width / 2:.1f}" y="33" font-size="12" font-weight="600" '
                f'text-anchor="middle" fill="#fff">{share}</text>'
            )
        x += width
    out.append("</svg>")
    return "".join(out)
