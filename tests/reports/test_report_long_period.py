"""A report over years (issue 15): one ``OR`` per open day of the window used to reach
SQLite's expression depth at about 1,000 days (``Expression tree is too large``). The same
metrics must come out of a seven-year period as out of the days that hold the history, and
quickly; and an ``--output`` that cannot be written is a message, not a traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from pathlib import Path

import pytest
import yaml
from support.report_history import CONFIG, EXPECTED, Days, write_history
from test_report_metrics import assert_metrics, run_cli

from dialerd.cli.main import main


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Days]:
    store = tmp_path / "dialerd.sqlite3"
    config = tmp_path / "dialerd.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "store": {"path": str(store)}}))
    days = Days.before(time.time())
    asyncio.run(write_history(store, days))
    return config, days


def test_a_seven_year_report_has_the_same_numbers_and_is_fast(history) -> None:
    config, days = history
    first = (days.d1 - dt.timedelta(days=7 * 365)).isoformat()
    started = time.monotonic()
    report = run_cli(
        config, "report", "--from", first, "--to", days.d3.isoformat(), "--format", "json"
    )
    took = time.monotonic() - started
    assert report["period"]["first_day"] == first
    assert_metrics(report["totals"], EXPECTED, "seven years")
    assert took < 15, f"a seven-year report took {took:.1f} s"
    by_date = run_cli(
        config,
        "report",
        "--from",
        first,
        "--to",
        days.d3.isoformat(),
        "--by",
        "date",
        "--format",
        "json",
    )
    assert sum(row["metrics"]["leads_received"] for row in by_date["rows"]) == 10
    speeds = [row["metrics"]["speed_to_lead_median_s"] for row in by_date["rows"]]
    assert any(s is not None and not math.isnan(s) for s in speeds)


def test_report_output_to_a_missing_directory_is_a_message(history, tmp_path, capsys) -> None:
    config, _ = history
    target = tmp_path / "no" / "such" / "r.html"
    code = main(["report", "--config", str(config), "--format", "html", "--output", str(target)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"dialerd: report: --output: directory {target.parent} does not exist\n"
