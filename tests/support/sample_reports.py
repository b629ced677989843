"""Reports built by hand (imported by the tests of tests/reports): the renderers are tested on known numbers, not on whatever a store
happens to produce, so a wrong bar height or a lost row is visible."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from dialerd.reports.model import HourLoad, Metrics, Period, Report, Row, SpeedBucket
from dialerd.reports.period import days

HOSTILE = "<script>alert(1)</script>"  # an operator name that must never run
FIRST_DAY = dt.date(2026, 11, 23)


def metrics(contacted: int, confirmed: int, revenue: float, **more: object) -> Metrics:
    processed = contacted + contacted // 4 + 3
    fields: dict[str, object] = {
        "leads_received": processed + 4,
        "duplicates": 2,
        "duplicate_rate": 2 / (processed + 4),
        "leads_processed": processed,
        "leads_contacted": contacted,
        "contact_rate": contacted / processed,
        "attempts": processed * 2,
        "answered_attempts": contacted + 3,
        "answer_rate": (contacted + 3) / (processed * 2),
        "conversations": contacted,
        "leads_fake": 1,
        "fake_rate": 1 / contacted if contacted else None,
        "leads_confirmed": confirmed,
        "confirmation_rate": confirmed / (contacted - 1) if contacted > 1 else None,
        "revenue": revenue,
        "average_check": revenue / confirmed if confirmed else None,
        "speed_to_lead_median_s": 42.0,
        "speed_to_lead_p90_s": 190.0,
        "speed_to_lead_within_target": 0.71,
        "aht_s": 245.0,
        "fcr": 0.62,
        "abandoned_attempts": 3,
        "abandon_rate": 3 / (contacted + 3),
        "cost": 1234.5,
        "cost_per_contact": 1234.5 / contacted if contacted else None,
        "service_level": 0.83,
        "inbound_offered": 40,
        "inbound_answered_in_target": 33,
        "occupancy": 0.78,
        "staffed_hours": 96.0,
        "outcomes": {"answered": contacted + 3, "no_answer": processed, "busy": 6, "failed": 1},
    }
    fields.update(more)
    return Metrics(**fields)  # type: ignore[arg-type]


# confirmations and contact rates per day: distinct values so a swapped bar shows
DAILY = [(40, 12, 3100.0), (55, 21, 5400.5), (38, 9, 2200.0), (61, 30, 8123.45), (47, 17, 4001.0)]
OPERATORS = [
    ("Anna Schmidt", 48, 22, 5600.0),
    ("Bogdan", 60, 30, 7200.0),
    (HOSTILE, 35, 11, 2500.0),
    ('Zoë & "Co"', 52, 22, 6100.0),
    ("Eve", 46, 4, 9100.0),  # big orders: first by revenue, last by confirmations
]
BUCKETS = [(30.0, 120), (60.0, 80), (120.0, 45), (300.0, 30), (600.0, 12), (None, 9)]


def hourly() -> list[HourLoad]:
    loads = []
    for hour in range(24):
        open_ = 9 <= hour < 21
        attempts = (30 + 9 * min(hour - 9, 20 - hour)) if open_ else 0
        loads.append(
            HourLoad(
                hour=hour,
                leads_received=attempts // 2 if open_ else (2 if hour in (7, 8) else 0),
                attempts=attempts,
                conversations=attempts // 2,
                staffed_operators=(2.5 + min(hour - 9, 20 - hour) * 0.75) if open_ else 0.0,
                free_operators=1.0 if open_ else 0.0,
                needed_operators=(3 + min(hour - 9, 20 - hour)) if open_ else None,
            )
        )
    return loads


def sample_report(by: str | None = "date") -> Report:
    period = days(FIRST_DAY, FIRST_DAY + dt.timedelta(days=len(DAILY) - 1), "Europe/Berlin")
    daily = [
        Row((FIRST_DAY + dt.timedelta(days=i)).isoformat(), metrics(c, k, r))
        for i, (c, k, r) in enumerate(DAILY)
    ]
    operators = [
        Row(name, metrics(c, k, r, leads_received=None, speed_to_lead_median_s=None))
        for name, c, k, r in OPERATORS
    ]
    totals = metrics(
        sum(c for c, _, _ in DAILY), sum(k for _, k, _ in DAILY), sum(r for _, _, r in DAILY)
    )
    rows = {"date": daily, "operator": operators, None: []}[by]
    return Report(
        period=period,
        generated_at=period.end + 7 * 3600,
        by=by,
        totals=totals,
        rows=rows,
        daily=daily,
        operators=operators,
        hourly_load=hourly(),
        speed_to_lead=[SpeedBucket(up, n) for up, n in BUCKETS],
        speed_to_lead_target_s=60.0,
    )


def empty_report() -> Report:
    """No lead, no call, no operator: what a new install or a closed day produces."""
    period = Period("2026-11-23", "2026-11-23", "Europe/Berlin", 0.0, 86400.0)
    return Report(
        period=period,
        generated_at=86400.0,
        by="date",
        totals=Metrics(),
        rows=[],
        daily=[],
        operators=[],
        hourly_load=[HourLoad(h, 0, 0, 0, 0.0, 0.0, None) for h in range(24)],
        speed_to_lead=[SpeedBucket(60.0, 0), SpeedBucket(None, 0)],
        speed_to_lead_target_s=60.0,
    )


def svg_charts(page: str) -> dict[str, ET.Element]:
    """The page's charts by id, parsed as XML (a stray unescaped ``<`` or ``&`` raises)."""
    found = {}
    for text in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL):
        svg = ET.fromstring(text)
        found[svg.get("id", "")] = svg
    return found


def contrast_with_white(colour: str) -> float:
    """WCAG 2 contrast ratio of ``#rrggbb`` against white (3:1 is the bar for graphics)."""

    def channel(c: int) -> float:
        c8 = c / 255
        return c8 / 12.92 if c8 <= 0.03928 else ((c8 + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)
