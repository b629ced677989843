"""Every §4 metric of a known history, checked against hand-computed values in the CLI's
JSON, the HTTP API and ``/metrics`` — the same numbers wherever an owner reads them."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support.api import http_daemon
from support.report_history import (
    CONFIG,
    EXPECTED,
    EXPECTED_ANN,
    EXPECTED_BOB,
    EXPECTED_BY_DATE,
    EXPECTED_BY_GROUP,
    EXPECTED_CAT,
    EXPECTED_OUTCOMES,
    Days,
    write_history,
)

MONEY = ("revenue", "average_check", "cost", "cost_per_contact")


def assert_metrics(found: dict, expected: dict, where: str) -> None:
    for name, value in expected.items():
        got = found[name]
        if name in MONEY and isinstance(got, str):  # JSON: a decimal string, as in the webhook
            assert re.fullmatch(r"-?\d+\.\d\d", got), f"{where}: {name} is {got!r}"
            got = float(got)
        if value is None or got is None:
            assert got == value, f"{where}: {name} is {got!r}, expected {value!r}"
        else:
            assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (
                f"{where}: {name} is {got!r}, expected {value!r}"
            )


def run_cli(config: Path, *args: str) -> dict:
    env = {**os.environ, "DIALERD_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-c", "from dialerd.cli import main; raise SystemExit(main())", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Days]:
    store = tmp_path / "dialerd.sqlite3"
    config = tmp_path / "dialerd.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "store": {"path": str(store)}}))
    days = Days.before(time.time())
    asyncio.run(write_history(store, days))
    return config, days


def test_cli_report_json_has_every_metric_as_computed_by_hand(history) -> None:
    config, days = history
    period = ("--from", days.d1.isoformat(), "--to", days.d3.isoformat())
    report = run_cli(config, "report", *period, "--format", "json")
    assert report["period"]["first_day"] == days.d1.isoformat()
    assert_metrics(report["totals"], EXPECTED, "cli totals")
    assert report["totals"]["outcomes"] == EXPECTED_OUTCOMES

    by_operator = run_cli(config, "report", *period, "--by", "operator", "--format", "json")
    rows = {row["key"]: row["metrics"] for row in by_operator["rows"]}
    assert_metrics(rows["bob"], EXPECTED_BOB, "cli bob")
    assert_metrics(rows["ann"], EXPECTED_ANN, "cli ann")
    assert_metrics(rows["cat"], EXPECTED_CAT, "cli cat")
    assert rows["bob"]["paused_s_by_reason"] == {"lunch": 3000.0}
    assert rows["ann"]["paused_s_by_reason"] == {} and rows["ann"]["paused_s"] == 0.0
    assert {row["key"] for row in by_operator["operators"]} == {"ann", "bob", "cat"}

    by_date = run_cli(config, "report", *period, "--by", "date", "--format", "json")
    assert [row["key"] for row in by_date["rows"]] == [
        d.isoformat() for d in (days.d1, days.d2, days.d3)
    ]
    for name, values in EXPECTED_BY_DATE.items():
        assert [row["metrics"][name] for row in by_date["rows"]] == values, name

    by_group = run_cli(config, "report", *period, "--by", "group", "--format", "json")
    groups = {row["key"]: row["metrics"] for row in by_group["rows"]}
    for group, expected in EXPECTED_BY_GROUP.items():
        assert_metrics(groups[group], expected, f"cli group {group}")
    assert groups["sales"]["inbound_offered"] == 4  # q-sales is answered by sales


def test_cli_report_of_one_day_counts_only_that_day(history) -> None:
    """Calls belong to the day they were made, lead outcomes to the day the lead arrived."""
    config, days = history
    d3 = run_cli(config, "report", "--from", days.d3.isoformat(), "--format", "json")["totals"]
    assert d3["leads_received"] == 2  # leads 7 and 8
    assert d3["attempts"] == 4  # lead 4's third call, 7's two, 8's one
    assert d3["leads_confirmed"] == 0 and d3["revenue"] == "0.00"  # lead 4 arrived on D2
    d2 = run_cli(config, "report", "--from", days.d2.isoformat(), "--format", "json")["totals"]
    assert (
        d2["leads_confirmed"] == 2 and d2["revenue"] == "1300.00"
    )  # leads 4 and 5: a decimal string


def test_cli_staffing_needs_operators_where_leads_arrive(history) -> None:
    config, days = history
    plan = run_cli(
        config,
        "staffing",
        "--from",
        days.d1.isoformat(),
        "--to",
        days.d3.isoformat(),
        "--format",
        "json",
    )
    hours = {hour["hour"]: hour for hour in plan["hours"]}
    assert math.isclose(plan["aht_s"], EXPECTED["aht_s"])
    # lead 4 arrived at 03:00 in the night pause: its work is at the 10:00 opening
    assert hours[3]["needed_operators"] == 0
    assert hours[10]["needed_operators"] >= 1
    assert all(hours[h]["needed_operators"] == 0 for h in range(0, 10))
    # bob was logged in 10:00-18:00 on D2 and 11:00-12:00 on D3, ann 10-12 D1, 10-11 D2
    assert math.isclose(hours[11]["staffed_operators"], (1 + 1 + 1) / 3)


@pytest.mark.engines("sqlite", "postgresql")
@pytest.mark.usefixtures("engine_store")
async def test_api_and_metrics_agree_with_the_hand_computed_history(tmp_path: Path) -> None:
    days = Days.before(time.time())
    await write_history(tmp_path / "dialerd.sqlite3", days)
    async with http_daemon(tmp_path, extra=CONFIG) as daemon, daemon.client() as api:
        period = {"from": days.d1.isoformat(), "to": days.d3.isoformat()}
        summary = (await api.get("/api/v1/reports/summary", params=period)).json()
        assert_metrics(summary["totals"], EXPECTED, "api summary")
        assert summary["totals"]["outcomes"] == EXPECTED_OUTCOMES

        response = await api.get("/api/v1/reports/breakdown", params={**period, "by": "operator"})
        rows = {row["key"]: row["metrics"] for row in response.json()["rows"]}
        assert_metrics(rows["bob"], EXPECTED_BOB, "api bob")

        bad = await api.get("/api/v1/reports/breakdown", params={**period, "by": "weather"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "by"
        backwards = {"from": days.d3.isoformat(), "to": days.d1.isoformat()}
        bad = await api.get("/api/v1/reports/summary", params=backwards)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "to"

        scraped = await api.get("/metrics")
        assert scraped.status_code == 200
        metrics = parse_prometheus(scraped.text)
        today = (await api.get("/api/v1/reports/summary")).json()["totals"]

        async with daemon.client(token=None) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 401

    # all time = the three days + today's one lead and one duplicate
    assert metrics["dialerd_leads_received_total"] == EXPECTED["leads_received"] + 2
    assert metrics["dialerd_duplicates_total"] == EXPECTED["duplicates"] + 1
    for name in (
        "leads_processed",
        "leads_contacted",
        "conversations",
        "leads_confirmed",
        "revenue",
        "billed_minutes",
        "abandoned_attempts",
        "inbound_offered",
        "repeat_customers",
        "upsells",
    ):
        assert metrics[f"dialerd_{name}_total"] == EXPECTED[name], name
    for outcome, count in EXPECTED_OUTCOMES.items():
        assert metrics[f'dialerd_attempts_total{{outcome="{outcome}"}}'] == count
    # today: the same numbers as the API's summary of today
    assert today["leads_received"] == 2
    for name, value in today.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert math.isclose(metrics[f"dialerd_today_{name}"], value), name
    assert metrics["dialerd_calls_in_flight"] == 0
    assert metrics["dialerd_oldest_new_lead_age_seconds"] == 0  # every lead is closed
    assert "dialerd_outbox_backlog" in metrics


def parse_prometheus(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values
