"""The report as one self-contained HTML page (issue 6): inline CSS, inline SVG charts, no
script and no external reference, so it reads the same opened from an e-mail, a file or paper.
A Content-Security-Policy forbids every load and script: even a bug that let data through
unescaped could not run or fetch anything. Every text from data is escaped here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape
from zoneinfo import ZoneInfo

from dialerd.reports import charts
from dialerd.reports.charts import Axis, Segment, Series
from dialerd.reports.model import CallerIdRow, HourLoad, Metrics, Report, Row, SpeedBucket
from dialerd.reports.numbers import DASH, count, decimal, duration, durations, money, pct
from dialerd.reports.render import human

BLUE, NAVY, SKY = "#1d4ed8", "#1e3a8a", "#3b82f6"
ORANGE, GREEN, RED, AMBER, TEAL = "#c2410c", "#047857", "#b91c1c", "#b45309", "#0f766e"
OUTCOME_COLOURS = {
    "answered": GREEN,
    "busy": AMBER,
    "no_answer": "#6b7280",
    "congestion": "#7c3aed",
    "failed": RED,
    "abandoned": "#be185d",
    "machine": "#0e7490",
    "unknown": "#374151",
}
SPARE_COLOURS = ("#0e7490", "#4d7c0f", "#9333ea", "#a16207", "#334155")
BREAKDOWN_TITLES = {"date": "By day", "hour": "By hour of day", "group": "By group"}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _day(iso: str, year: bool = False) -> str:
    day = dt.date.fromisoformat(iso)
    return day.strftime("%a %d %b %Y" if year else "%a %d %b").replace(" 0", " ")


def _key(by: str | None, key: str) -> str:
    """Dates and hours read better as 'Mon 23 Nov' and '14:00'; other keys are names."""
    try:
        if by == "date":
            return _day(key)
        if by == "hour":
            return f"{int(key):02d}:00"
    except ValueError:
        pass
    return key


# --- page -----------------------------------------------------------------------------------


def render_html(report: Report) -> str:
    period = report.period
    title = f"Call centre report {period.first_day} – {period.last_day}"
    sections = [
        _header(report),
        _tiles(report.totals, report.speed_to_lead_target_s, report.currency),
        _card("Contact rate and confirmations by day", _daily(report.daily)),
        _card("Load by hour against operators", _hourly(report.hourly_load)),
        _card("Speed to lead", _speed(report.speed_to_lead, report.speed_to_lead_target_s)),
        _card("Operator league table", _league(report.operators, report.currency)),
    ]
    if report.by is not None or report.rows:
        by = report.by or "group"
        heading = BREAKDOWN_TITLES.get(by, f"By {by}")
        sections.append(
            _card(heading, _breakdown(report.by, report.rows, report.totals, report.currency))
        )
    if report.caller_ids:
        sections.append(_card("Answer rate by caller ID", _caller_ids(report.caller_ids)))
    sections.append(_card("Outcome mix of dial attempts", _outcomes(report.totals.outcomes)))
    sections.append(
        f'<footer>Rates are shares of each metric\'s own base; "{DASH}" means no base to'
        f" divide by. {_e(_money_note(report.currency))} Every metric is defined in"
        " docs/metrics.md of dialerd's source.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )


def _card(title: str, body: str) -> str:
    return f'<section class="card"><h2>{_e(title)}</h2>{body}</section>'


def _no_data(text: str) -> str:
    return f'<p class="nodata" role="note">{_e(text)}</p>'


def _header(report: Report) -> str:
    period = report.period
    days = (dt.date.fromisoformat(period.last_day) - dt.date.fromisoformat(period.first_day)).days
    span = _day(period.first_day, year=True)
    if period.last_day != period.first_day:
        span += f" – {_day(period.last_day, year=True)}"
    try:
        zone: dt.tzinfo = ZoneInfo(period.timezone)
    except (ValueError, KeyError):
        zone = dt.UTC
    generated = dt.datetime.fromtimestamp(report.generated_at, zone).strftime("%Y-%m-%d %H:%M")
    return (
        '<header><p class="kicker">Shop call centre report</p>'
        f"<h1>{_e(span)}</h1>"
        f'<p class="meta">{days + 1} day{"s" if days else ""} · time zone {_e(period.timezone)}'
        f" · generated {_e(generated)}</p></header>"
    )


def _tile(label: str, value: str, note: str = "", main: bool = False) -> str:
    kind = "tile main" if main else "tile"
    return (
        f'<div class="{kind}"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(value)}</div><div class="note">{_e(note)}</div></div>'
    )


def _tiles(m: Metrics, target_s: float, currency: str | None = None) -> str:
    main = [
        _tile(
            "Leads received", count(m.leads_received), f"{count(m.leads_processed)} dialed", True
        ),
        _tile(
            "Contact rate",
            pct(m.contact_rate),
            f"{count(m.leads_contacted)} of {count(m.leads_processed)} dialed leads",
            True,
        ),
        _tile(
            "Confirmation rate",
            pct(m.confirmation_rate),
            f"{count(m.leads_confirmed)} orders confirmed",
            True,
        ),
        _tile(
            _in("Revenue", currency),
            money(m.revenue),
            f"average check {money(m.average_check)}",
            True,
        ),
    ]
    rest = [
        _tile(
            "Speed to lead (median)",
            duration(m.speed_to_lead_median_s),
            f"{pct(m.speed_to_lead_within_target)} within {duration(target_s)}"
            f" · p90 {duration(m.speed_to_lead_p90_s)}",
        ),
        _tile(
            _in("Average check", currency),
            money(m.average_check),
            f"{count(m.leads_confirmed)} orders",
        ),
        _tile(
            "Average handling time", duration(m.aht_s), f"{count(m.conversations)} conversations"
        ),
        _tile(
            "Abandon rate",
            pct(m.abandon_rate),
            f"{count(m.abandoned_attempts)} of {count(m.answered_attempts)} answered",
        ),
        _tile(
            "Answering machines",
            pct(m.machine_share),
            f"{count(m.machine_attempts)} machines dropped",
        ),
        _tile(
            "NPS",
            human("nps", m.nps),
            f"{count(m.nps_answers)} answers · {count(m.surveys_unanswered)} surveys unanswered",
        ),
        _tile("CSAT", pct(m.csat), f"{count(m.csat_answers)} answers, share of 4 and 5"),
        _tile(
            "Answer to operator (median)",
            duration(m.dead_air_median_s),
            f"p95 {duration(m.dead_air_p95_s)}: the customer's wait after answering",
        ),
        _tile(
            "Service level",
            pct(m.service_level),
            f"inbound: {count(m.inbound_answered_in_target)} of {count(m.inbound_offered)} in time",
        ),
        _tile(
            _in("Cost per conversation", currency),
            money(m.cost_per_contact),
            f"total cost {money(m.cost)}",
        ),
        _tile("Duplicate rate", pct(m.duplicate_rate), f"{count(m.duplicates)} refused"),
        _tile("Fake rate", pct(m.fake_rate), f"{count(m.leads_fake)} fake leads"),
        _tile("First-call resolution", pct(m.fcr), "settled on the first conversation"),
        _tile("Occupancy", pct(m.occupancy), f"{decimal(m.staffed_hours)} staffed hours"),
    ]
    return f'<section class="tiles">{"".join(main)}</section><section class="tiles">{"".join(rest)}</section>'


# --- charts ---------------------------------------------------------------------------------


def _daily(daily: Sequence[Row]) -> str:
    if not daily:
        return _no_data("No days in this period.")
    confirmed = [float(r.metrics.leads_confirmed) for r in daily]
    rates = [r.metrics.contact_rate for r in daily]
    known = [r for r in rates if r is not None]
    desc = f"Confirmed orders per day, {count(min(confirmed))} to {count(max(confirmed))}"
    if known:
        desc += f"; contact rate {pct(min(known))} to {pct(max(known))}"
    return charts.combo(
        "chart-daily",
        "Confirmed orders (bars) and contact rate (line) by day",
        desc + ".",
        [_day(r.key) for r in daily],
        [Series("confirmed orders", confirmed, BLUE, count)],
        [Series("contact rate", rates, ORANGE, pct)],
        Axis("orders", count, integer=True),
        Axis("contact rate", lambda v: f"{v * 100:.0f}%", top=1.0),
        value_labels=len(daily) <= 16,
    )


def _hourly(hours: Sequence[HourLoad]) -> str:
    busy = [
        h for h in hours if h.attempts or h.leads_received or h.staffed_operators or h.conversations
    ]
    if not busy:
        return _no_data("No calls and no operators logged in during this period.")
    by_hour = {h.hour: h for h in hours}
    span = range(min(h.hour for h in busy), max(h.hour for h in busy) + 1)
    rows = [by_hour.get(hour, HourLoad(hour, 0, 0, 0, 0.0, 0.0, None)) for hour in span]
    needed = [None if h.needed_operators is None else float(h.needed_operators) for h in rows]
    lines = [
        Series("staffed operators", [h.staffed_operators for h in rows], GREEN, decimal, step=True)
    ]
    if any(n is not None for n in needed):
        lines.append(Series("needed operators", needed, RED, count, dashed=True, step=True))
    peak = max(rows, key=lambda h: h.attempts)
    return (
        charts.combo(
            "chart-hourly",
            "Leads in, attempts and conversations by hour of day, against staffed and needed operators",
            f"Busiest hour {peak.hour:02d}:00 with {count(peak.attempts)} attempts and "
            f"{decimal(peak.staffed_operators)} operators staffed on average.",
            [f"{h.hour:02d}" for h in rows],
            [
                Series("leads in", [float(h.leads_received) for h in rows], TEAL, count),
                Series("attempts", [float(h.attempts) for h in rows], SKY, count),
                Series("conversations", [float(h.conversations) for h in rows], NAVY, count),
            ],
            lines,
            Axis("calls", count, integer=True),
            Axis("operators", decimal),
        )
        + '<p class="hint">Hours of the day in the centre\'s time zone, summed over the period; operators are the mean logged in.</p>'
    )


def _bucket_label(bucket: SpeedBucket, previous: float | None) -> str:
    if bucket.up_to_s is None:
        return f"> {duration(previous)}" if previous is not None else "all"
    return f"≤ {duration(bucket.up_to_s)}"


def _speed(buckets: Sequence[SpeedBucket], target_s: float) -> str:
    total = sum(b.leads for b in buckets)
    if not total:
        return _no_data("No lead was dialed in this period.")
    labels, good, notes = [], [], []
    marker: float | None = None
    lower = 0.0
    for i, bucket in enumerate(buckets):
        previous = buckets[i - 1].up_to_s if i else None
        labels.append(_bucket_label(bucket, previous))
        good.append(bucket.up_to_s is not None and bucket.up_to_s <= target_s)
        notes.append(f"{labels[-1]}: {count(bucket.leads)} leads ({pct(bucket.leads / total)})")
        upper = bucket.up_to_s
        if marker is None and (upper is None or upper >= target_s):
            inside = 0.0 if upper is None else (target_s - lower) / ((upper - lower) or 1)
            marker = i + max(0.0, min(1.0, inside))
        lower = upper or lower
    within = sum(b.leads for b, ok in zip(buckets, good, strict=True) if ok) / total
    return charts.histogram(
        "chart-speed",
        "Speed to lead: leads by time from arrival to first call",
        f"{pct(within)} of {count(total)} leads were first called within {duration(target_s)}.",
        labels,
        [b.leads for b in buckets],
        good,
        notes,
        marker,
        f"target {duration(target_s)}",
        (BLUE, AMBER),
    )


# --- tables ---------------------------------------------------------------------------------


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], foot: Sequence[str] = ()) -> str:
    """Cells arrive escaped (some hold markup); the first column is a name, the rest numbers."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    tfoot = "<tfoot><tr>" + "".join(f"<td>{c}</td>" for c in foot) + "</tr></tfoot>" if foot else ""
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody>{tfoot}</table></div>'


def _caller_ids(rows: Sequence[CallerIdRow]) -> str:
    """A number answered far less often than its campaign's others is likely labelled spam."""
    return _table(
        ("campaign", "caller ID", "attempts", "answer rate", "campaign's"),
        [
            (
                _e(r.campaign),
                _e(r.caller_id),
                count(r.attempts),
                pct(r.answer_rate),
                pct(r.campaign_answer_rate),
            )
            for r in rows
        ],
    )


def _league(operators: Sequence[Row], currency: str | None = None) -> str:
    if not operators:
        return _no_data("No operator handled a conversation in this period.")
    ranked = sorted(
        operators, key=lambda r: (-r.metrics.leads_confirmed, -r.metrics.revenue, r.key)
    )
    best = max(ranked[0].metrics.leads_confirmed, 1)
    rows = []
    for place, row in enumerate(ranked, 1):
        m = row.metrics
        meter = (
            f'<span class="meter"><span style="width:{m.leads_confirmed / best * 100:.1f}%">'
            f"</span></span>{count(m.leads_confirmed)}"
        )
        rows.append(
            [
                f'<span class="rank r{min(place, 4)}">{place}</span>{_e(row.key)}',
                count(m.conversations),
                meter,
                pct(m.confirmation_rate),
                money(m.revenue),
                duration(m.aht_s),
                pct(m.occupancy),
                pct(m.fcr),
                _paused(m),
            ]
        )
    head = [
        "Operator",
        "Conversations",
        "Confirmed",
        "Conf. rate",
        _in("Revenue", currency),
        "Handling time",
        "Occupancy",
        "FCR",
        "Paused",
    ]
    return _table(head, rows)


def _in(label: str, currency: str | None) -> str:
    """A money label with its currency: "Revenue, RUB"."""
    return f"{label}, {currency}" if currency else label


def _money_note(currency: str | None) -> str:
    if currency:
        return f"Money in {currency}."
    return "Money in the shop's currency (set reports.currency to name it)."


def _paused(m: Metrics) -> str:
    """Paused time, and under it by reason (issue 12)."""
    if not m.paused_s:
        return duration(m.paused_s)
    return f'{duration(m.paused_s)}<div class="hint">{_e(durations(m.paused_s_by_reason))}</div>'


BREAKDOWN_COLUMNS: tuple[tuple[str, Callable[[Metrics], str]], ...] = (
    ("Leads", lambda m: count(m.leads_received)),
    ("Contact rate", lambda m: pct(m.contact_rate)),
    ("Conversations", lambda m: count(m.conversations)),
    ("Confirmed", lambda m: count(m.leads_confirmed)),
    ("Conf. rate", lambda m: pct(m.confirmation_rate)),
    ("Revenue", lambda m: money(m.revenue)),
    ("Avg check", lambda m: money(m.average_check)),
    ("Speed to lead", lambda m: duration(m.speed_to_lead_median_s)),
    ("Handling time", lambda m: duration(m.aht_s)),
    ("Abandon", lambda m: pct(m.abandon_rate)),
    ("Machines", lambda m: pct(m.machine_share)),
    ("NPS", lambda m: f"{human('nps', m.nps)} ({count(m.nps_answers)})"),
    ("CSAT", lambda m: f"{pct(m.csat)} ({count(m.csat_answers)})"),
    ("Cost/conversation", lambda m: money(m.cost_per_contact)),
)
MONEY_COLUMNS = frozenset({"Revenue", "Avg check", "Cost/conversation"})


def _breakdown(
    by: str | None, rows: Sequence[Row], totals: Metrics, currency: str | None = None
) -> str:
    if not rows:
        return _no_data("No data in this period.")
    head = [
        (by or "group").capitalize(),
        *(_in(name, currency) if name in MONEY_COLUMNS else name for name, _ in BREAKDOWN_COLUMNS),
    ]
    body = [[_e(_key(by, r.key)), *(_e(f(r.metrics)) for _, f in BREAKDOWN_COLUMNS)] for r in rows]
    foot = ["Total", *(_e(f(totals)) for _, f in BREAKDOWN_COLUMNS)]
    return _table(head, body, foot)


def _outcomes(outcomes: dict[str, int]) -> str:
    mix = sorted(((k, v) for k, v in outcomes.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    if not mix:
        return _no_data("No dial attempt finished in this period.")
    total = sum(v for _, v in mix)
    spare = iter(SPARE_COLOURS * (len(mix) // len(SPARE_COLOURS) + 1))
    segments = [
        Segment(
            k.replace("_", " "),
            v,
            OUTCOME_COLOURS.get(k) or next(spare),
            f"{count(v)} ({pct(v / total)})",
        )
        for k, v in mix
    ]
    chart = charts.stacked(
        "chart-outcomes",
        "Outcome mix of finished dial attempts",
        "; ".join(f"{s.label} {s.note}" for s in segments) + ".",
        segments,
    )
    legend = "".join(
        f'<li><span class="swatch" style="background:{s.colour}"></span>{_e(s.label)} '
        f'<b>{_e(count(s.value))}</b> <span class="muted">{_e(pct(s.value / total))}</span></li>'
        for s in segments
    )
    return f'{chart}<ul class="legend">{legend}</ul>'


CSS = """
*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 system-ui,-apple-system,
'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 40px}
header{margin-bottom:18px}
.kicker{margin:0;color:#1d4ed8;font-weight:600;letter-spacing:.06em;text-transform:uppercase;
font-size:12px}
h1{margin:4px 0 2px;font-size:28px;line-height:1.2}
.meta{margin:0;color:#4b5563}
h2{margin:0 0 12px;font-size:17px}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:12px}
.tile{flex:1 1 160px;background:#fff;border:1px solid #e5e7eb;border-radius:10px;
padding:12px 14px}
.tile.main{flex-basis:220px;border-top:4px solid #1d4ed8}
.tile .label{color:#4b5563;font-size:12px;font-weight:600;text-transform:uppercase;
letter-spacing:.03em}
.tile .value{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums;margin:2px 0}
.tile.main .value{font-size:32px}
.tile .note{color:#4b5563;font-size:12px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:18px 20px;
margin-top:16px;break-inside:avoid;page-break-inside:avoid}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
.nodata{margin:0;padding:28px;text-align:center;color:#4b5563;background:#f9fafb;
border:1px dashed #d1d5db;border-radius:8px}
.hint{margin:6px 0 0;color:#4b5563;font-size:12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:7px 8px;text-align:right;border-bottom:1px solid #e5e7eb}
td{white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{color:#4b5563;font-size:11px;vertical-align:bottom;font-weight:600;text-transform:uppercase;letter-spacing:.03em;
border-bottom:2px solid #d1d5db}
tbody tr:nth-child(even){background:#f9fafb}
tfoot td{font-weight:700;border-top:2px solid #d1d5db;border-bottom:0}
.rank{display:inline-block;width:22px;height:22px;margin-right:8px;border-radius:50%;
background:#e5e7eb;color:#111827;text-align:center;font-size:12px;line-height:22px;
font-weight:700}
.rank.r1{background:#1d4ed8;color:#fff}.rank.r2{background:#3b82f6;color:#fff}
.rank.r3{background:#93c5fd}
.meter{display:inline-block;width:90px;height:8px;margin-right:8px;background:#e5e7eb;
border-radius:4px;vertical-align:middle;text-align:left}
.meter span{display:block;height:8px;background:#1d4ed8;border-radius:4px}
.legend{list-style:none;margin:12px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:6px 22px}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;border-radius:2px;
vertical-align:-1px}
.muted{color:#4b5563}
footer{margin-top:18px;color:#4b5563;font-size:12px}
@page{margin:12mm}
@media print{body{background:#fff}main{padding:0}.card,.tile{border-color:#d1d5db}}
"""
