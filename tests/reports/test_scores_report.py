"""The machine share, NPS and CSAT in the reports: rows written as the engine and the survey
log write them, counted by the rollups (migration 0014), read back per day, operator,
campaign and group, and shown in every format."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest

from dialerd.config import load_config
from dialerd.reports.build import build_report
from dialerd.reports.period import days
from dialerd.reports.render import render
from dialerd.store import sql, surveys
from dialerd.store.surveys import SurveyAnswer

pytestmark = pytest.mark.engines("sqlite", "postgresql")  # through the db fixture

TZ = "Europe/Moscow"
DAY = dt.date(2026, 11, 23)
SETTINGS = load_config(
    None,
    overrides={
        "window": {"timezone": TZ},
        "groups": {"sales": {"queue": "sales"}, "care": {"queue": "care"}},
        "operators": [
            {"name": "ann", "group": "sales", "interface": "PJSIP/101"},
            {"name": "bob", "group": "care", "interface": "PJSIP/102"},
        ],
        "campaigns": {"web": {"group": "sales"}, "promo": {"group": "care"}},
    },
).settings


def at(day: dt.date, hhmm: str) -> float:
    h, m = (int(part) for part in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), ZoneInfo(TZ)).timestamp()


# (attempt id, day, campaign, operator, outcome, NPS, CSAT): the survey's answers, None: none
CALLS = [
    (1, DAY, "web", "ann", "answered", 10, 5),
    (2, DAY, "web", "ann", "answered", 9, 4),
    (3, DAY, "web", "ann", "answered", 3, 2),  # a detractor
    (4, DAY, "web", "ann", "answered", None, None),  # the survey ended without a digit
    (5, DAY, "web", None, "machine", None, None),
    (6, DAY, "promo", "bob", "answered", 7, 3),
    (7, DAY, "promo", None, "machine", None, None),
    (8, DAY, "promo", None, "abandoned", None, None),
    (9, DAY + dt.timedelta(days=1), "promo", "bob", "answered", 6, 5),
]


@pytest.fixture
async def stored(db):
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state)"
            " VALUES (1, '+79161231001', 0, 0, 0, 'closed')",
        )
        for n, day, campaign, operator, outcome, nps, csat in CALLS:
            start = at(day, "11:00") + n * 60
            answered = start + 5
            await sql.run(
                conn,
                "INSERT INTO attempts (id, lead_id, number, call_id, action_id, campaign, phone,"
                " mode, operator, status, created_at, answered_at, ended_at, outcome, talk_s,"
                " amd_status) VALUES (?, 1, ?, ?, ?, ?, '+79161231001', 'customer_first', ?,"
                " 'done', ?, ?, ?, ?, 30, ?)",
                (
                    n,
                    n,
                    f"c{n}",
                    f"a{n}",
                    campaign,
                    operator,
                    start,
                    answered,
                    answered + 30,
                    outcome,
                    "MACHINE" if outcome == "machine" else "HUMAN",
                ),
            )
            if operator is not None:
                await surveys.record(conn, SurveyAnswer(n, 1, nps, csat, answered + 60))
    return db


async def test_scores_and_machines_per_operator(stored):
    report = await build_report(
        stored, SETTINGS, days(DAY, DAY, TZ), "operator", now=at(DAY, "18:00")
    )
    ann = next(r.metrics for r in report.rows if r.key == "ann")
    # 2 promoters (10, 9), 1 detractor (3) of 3 answers: (2 - 1) / 3 = 33.3
    assert (ann.nps, ann.nps_answers) == (pytest.approx(100 / 3), 3)
    assert (ann.csat, ann.csat_answers, ann.surveys_unanswered) == (pytest.approx(2 / 3), 3, 1)
    bob = next(r.metrics for r in report.rows if r.key == "bob")
    assert (bob.nps, bob.csat) == (0.0, 0.0)  # a passive 7, a 3: the next day is not in it
    totals = report.totals
    assert (totals.nps_answers, totals.csat_answers, totals.surveys_unanswered) == (4, 4, 1)
    assert totals.nps == pytest.approx(100 * (2 - 1) / 4)
    # machines: 2 of 8 picked up (5 talked, 1 left waiting, 2 machines); both abandoned calls
    assert (totals.machine_attempts, totals.machine_share) == (2, 0.25)
    assert totals.outcomes["machine"] == 2
    assert totals.abandoned_attempts == 3  # one customer left waiting + two machines
    assert totals.abandon_rate == pytest.approx(3 / 8)  # answered 6 (5 talked + 1 left) + 2
    # the carrier bills a machine's 30 s like a person's: 8 calls, each a 60-s increment
    assert totals.billed_minutes == 8.0


async def test_scores_per_campaign_group_and_day(stored):
    both = days(DAY, DAY + dt.timedelta(days=1), TZ)
    now = at(DAY + dt.timedelta(days=1), "18:00")
    by_campaign = await build_report(stored, SETTINGS, both, "campaign", now=now)
    promo = next(r.metrics for r in by_campaign.rows if r.key == "promo")
    assert (promo.nps, promo.nps_answers) == (-50.0, 2)  # a 7 and a 6
    assert promo.machine_share == pytest.approx(1 / 4)
    by_group = await build_report(stored, SETTINGS, both, "group", now=now)
    assert next(r.metrics for r in by_group.rows if r.key == "care").nps == -50.0
    by_date = await build_report(stored, SETTINGS, both, "date", now=now)
    daily = {r.key: r.metrics for r in by_date.rows}
    assert daily[DAY.isoformat()].nps_answers == 4
    assert daily[(DAY + dt.timedelta(days=1)).isoformat()].nps == -100.0


async def test_every_format_shows_them(stored):
    report = await build_report(
        stored, SETTINGS, days(DAY, DAY, TZ), "operator", now=at(DAY, "18:00")
    )
    table = render(report, "table")
    assert "NPS" in table and "+25" in table and "CSAT" in table
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    total = rows[0]
    assert (total["nps"], total["csat"], total["machine_share"]) == ("25", "0.5", "0.25")
    assert total["outcome_machine"] == "2"
    html = render(report, "html")
    assert "Answering machines" in html and "NPS" in html and "+25" in html
    # the breakdown by operator: ann's +33 of 3 answers, bob's 0 of 1
    assert "+33 (3)" in html and "0 (1)" in html
    ann_lines = [line for line in table.splitlines() if line.strip("│ ").startswith("ann ")]
    assert any("+33" in line and "66.7%" in line for line in ann_lines)  # NPS, CSAT
