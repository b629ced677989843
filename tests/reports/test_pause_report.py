"""Paused time by reason in the reports (issue 12): written as the operator log writes it,
summed by the rollup (migration 0010) and for pauses still open, and shown in every format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from zoneinfo import ZoneInfo

import pytest

from dialerd.config import load_config
from dialerd.reports.build import build_report
from dialerd.reports.period import days
from dialerd.reports.render import render
from dialerd.store import operator_time
from dialerd.store.operator_time import StateChange

TZ = "Europe/Moscow"
DAY = dt.date(2026, 11, 23)
SETTINGS = load_config(
    None,
    overrides={
        "window": {"timezone": TZ},
        "groups": {"sales": {"queue": "sales"}, "support": {"queue": "support"}},
        "operators": [
            {"name": "ann", "group": "sales", "interface": "PJSIP/101"},
            {"name": "bob", "group": "support", "interface": "PJSIP/102"},
        ],
    },
).settings


def at(hhmm: str) -> float:
    h, m = (int(part) for part in hhmm.split(":"))
    return dt.datetime.combine(DAY, dt.time(h, m), ZoneInfo(TZ)).timestamp()


NOW = at("16:30")
CHANGES = [  # as OperatorLog queues them; ann is still at lunch at NOW
    StateChange("ann", "free", at("10:00")),
    StateChange("bob", "free", at("10:00")),
    StateChange("bob", "paused", at("11:00")),  # a supervisor's pause: no reason
    StateChange("bob", "free", at("11:10")),
    StateChange("ann", "paused", at("12:00"), "lunch"),
    StateChange("ann", "free", at("12:40")),
    StateChange("ann", "paused", at("15:05"), "break"),
    StateChange("ann", "free", at("15:15")),
    StateChange("ann", "paused", at("16:00"), "lunch"),
]
ANN = {"break": 600.0, "lunch": 2400.0 + 1800.0}
BOB = {"(none)": 600.0}


@pytest.fixture
async def stored(db):
    async with db.transaction() as conn:
        await operator_time.record(conn, CHANGES, NOW)
    return db


async def test_the_operator_breakdown_has_paused_time_by_reason_open_pauses_included(stored):
    built = await build_report(stored, SETTINGS, days(DAY, DAY, TZ), "operator", now=NOW)
    rows = {row.key: row.metrics for row in built.rows}
    assert rows["ann"].paused_s_by_reason == pytest.approx(ANN)
    assert rows["ann"].paused_s == pytest.approx(4800.0)
    assert rows["bob"].paused_s_by_reason == pytest.approx(BOB)
    assert {row.key: row.metrics.paused_s for row in built.operators} == pytest.approx(
        {"ann": 4800.0, "bob": 600.0}
    )
    assert built.totals.paused_s_by_reason == pytest.approx({**ANN, **BOB})
    # paused time is staffed time: ann 10:00-16:30, bob 10:00-16:30
    assert built.totals.staffed_hours == pytest.approx(13.0)


async def test_groups_and_hours_split_it_campaigns_have_none(stored):
    by_group = await build_report(stored, SETTINGS, days(DAY, DAY, TZ), "group", now=NOW)
    groups = {row.key: row.metrics.paused_s_by_reason for row in by_group.rows}
    assert groups == {"sales": ANN, "support": BOB}
    by_hour = await build_report(stored, SETTINGS, days(DAY, DAY, TZ), "hour", now=NOW)
    hours = {row.key: row.metrics.paused_s_by_reason for row in by_hour.rows}
    assert hours["11"] == pytest.approx({"(none)": 600.0})
    assert hours["12"] == pytest.approx({"lunch": 2400.0})
    assert hours["15"] == pytest.approx({"break": 600.0})
    assert hours["16"] == pytest.approx({"lunch": 1800.0})
    by_campaign = await build_report(stored, SETTINGS, days(DAY, DAY, TZ), "campaign", now=NOW)
    for row in by_campaign.rows:  # operators work for groups, not campaigns
        assert (row.metrics.paused_s, row.metrics.paused_s_by_reason) == (None, {})


async def test_a_pause_closed_later_counts_the_same_from_the_rollup(stored):
    async with stored.transaction() as conn:
        await operator_time.close_open(conn, NOW)
    built = await build_report(stored, SETTINGS, days(DAY, DAY, TZ), "operator", now=NOW + 3600)
    assert {row.key: row.metrics.paused_s_by_reason for row in built.rows} == {
        "ann": ANN,
        "bob": BOB,
    }


async def test_every_format_shows_it(stored):
    built = await build_report(stored, SETTINGS, days(DAY, DAY, TZ), "operator", now=NOW)
    table = render(built, "table")
    assert re.search(r"paused by reason +│ lunch 1h 10m, \(none\) 10m, break 10m", table)
    assert re.search(r"│ paused +│ 1h 30m ", table)

    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(render(built, "csv")))}
    assert float(rows["total"]["paused_s"]) == pytest.approx(5400.0)
    assert float(rows["ann"]["paused_s_lunch"]) == pytest.approx(4200.0)
    assert float(rows["ann"]["paused_s_(none)"]) == 0.0
    assert float(rows["bob"]["paused_s_(none)"]) == pytest.approx(600.0)

    data = json.loads(render(built, "json"))
    (ann,) = [row for row in data["operators"] if row["key"] == "ann"]
    assert ann["metrics"]["paused_s_by_reason"] == pytest.approx(ANN)

    page = render(built, "html")
    league = page[page.index("Operator league table") :]
    assert "<th>Paused</th>" in league
    assert '1h 20m<div class="hint">lunch 1h 10m, break 10m</div>' in league
