"""The answer rate of each caller ID number next to its campaign's, in the report (JSON,
table, HTML) and on /metrics: a number answered far less often stands out."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from dialerd.api.metrics import _caller_ids as caller_id_families
from dialerd.config import load_config
from dialerd.reports.build import build_report
from dialerd.reports.html import render_html
from dialerd.reports.period import days, local_today
from dialerd.reports.render import to_table
from dialerd.store import sql

pytestmark = pytest.mark.engines("sqlite", "postgresql")  # through the db fixture


async def add_attempts(db, number: str, attempts: int, answered: int, now: float) -> None:
    async with db.transaction() as conn:
        await _add_attempts(conn, number, attempts, answered, now)


async def _add_attempts(conn, number: str, attempts: int, answered: int, now: float) -> None:
    await sql.run(
        conn,
        "INSERT OR IGNORE INTO leads (id, phone, received_at, due_at, updated_at, state)"
        " VALUES (1, '+79161230001', ?, ?, ?, 'waiting')",
        (now, now, now),
    )
    for n in range(attempts):
        await sql.run(
            conn,
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone,"
            " status, created_at, outcome, answered_at, caller_id)"
            " VALUES (1, ?, ?, ?, 'default', '+79161230001', 'done', ?, ?, ?, ?)",
            (
                n,
                f"c-{number}-{n}",
                f"a-{number}-{n}",
                now - 60,
                "answered" if n < answered else "no_answer",
                now - 50 if n < answered else None,
                number,
            ),
        )


async def test_answer_rate_per_caller_id_in_every_report_form(db, tmp_path):
    now = time.time()
    await add_attempts(db, "+74951230001", 10, 4, now)
    await add_attempts(db, "+74951230002", 10, 1, now)  # the one carriers label spam
    settings = load_config(None, overrides={"store": {"path": str(tmp_path / "x.db")}}).settings
    tz = settings.window.timezone
    today = local_today(now, tz)
    report = await build_report(db, settings, days(today, today, tz), None, now=now)
    rows = [
        (r.caller_id, r.attempts, r.answered, r.answer_rate, r.campaign_answer_rate)
        for r in report.caller_ids
    ]
    assert rows == [("+74951230001", 10, 4, 0.4, 0.25), ("+74951230002", 10, 1, 0.1, 0.25)]
    assert report.as_dict()["caller_ids"][1]["answer_rate"] == 0.1
    table = to_table(report, width=120)
    assert "+74951230002" in table and "10.0%" in table
    assert "Answer rate by caller ID" in render_html(report)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_CallerIds(tuple(report.caller_ids)))
    text = generate_latest(registry).decode()
    assert (
        'dialerd_today_caller_id_answer_rate{caller_id="+74951230002",campaign="default"} 0.1'
        in text
    )
    assert (
        'dialerd_today_caller_id_attempts{caller_id="+74951230001",campaign="default"} 10.0' in text
    )


class _CallerIds:
    """The /metrics collector's caller-ID families alone (the rest needs a running daemon)."""

    def __init__(self, rows) -> None:
        self.rows = rows

    def collect(self):
        return caller_id_families(self.rows)
