"""`dialerd demo`: a simulated day on the production engine, and a report that matches the store."""

import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

MSK = ZoneInfo("Europe/Moscow")


def value(report: str, metric: str) -> str:
    match = re.search(rf"│\s+{re.escape(metric)}\s*│ ([^│]+?)\s*│", report)
    assert match, f"{metric!r} not in the report:\n{report}"
    return match.group(1)


def test_demo_runs_a_day_and_its_report_matches_the_store(tmp_path):
    store = tmp_path / "demo.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dialerd.cli",
            "demo",
            "--duration",
            "8",
            "--store",
            str(store),
            "--no-live",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = result.stdout
    with sqlite3.connect(store) as db:
        (leads,) = db.execute("SELECT COUNT(*) FROM leads").fetchone()
        (duplicates,) = db.execute("SELECT COUNT(*) FROM duplicates").fetchone()
        (processed,) = db.execute("SELECT COUNT(DISTINCT lead_id) FROM attempts").fetchone()
        outcomes = dict(
            db.execute(
                "SELECT outcome, COUNT(*) FROM attempts WHERE status = 'done' GROUP BY outcome"
            )
        )
        confirmed, revenue_minor = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(d.amount_minor, l.amount_minor, 0)), 0)"
            " FROM dispositions d JOIN leads l ON l.id = d.lead_id WHERE d.result = 'confirmed'"
        ).fetchone()
        attempt_times = [
            row[0] for row in db.execute("SELECT created_at FROM attempts ORDER BY created_at")
        ]
    assert leads > 50 and duplicates > 0 and outcomes.get("answered", 0) > 0
    # the live counts reconcile with the report: stored + duplicates = received
    assert value(report, "leads received") == (
        f"{leads + duplicates} ({leads} stored + {duplicates} duplicates)"
    )
    assert value(report, "duplicates rejected").startswith(f"{duplicates} (")
    assert value(report, "leads processed") == str(processed)
    assert value(report, "attempts").startswith(f"{sum(outcomes.values())} (")
    for outcome, count in outcomes.items():
        assert value(report, outcome) == str(count)
    assert int(value(report, "invalid leads rejected").split()[0]) > 0
    # the simulated operators' time is recorded as the daemon records real operators'
    with sqlite3.connect(store) as db:
        (staffed_s,) = db.execute(
            "SELECT SUM(ended_at - started_at) FROM operator_states WHERE state IN ('free', 'busy')"
        ).fetchone()
        (open_rows,) = db.execute(
            "SELECT COUNT(*) FROM operator_states WHERE ended_at IS NULL"
        ).fetchone()
    assert open_rows == 0 and staffed_s > 4 * 10 * 3600  # four operators, most of 10:00-22:00
    assert float(value(report, "staffed hours")) == pytest.approx(staffed_s / 3600, abs=0.05)
    assert value(report, "occupancy").endswith("%")
    assert value(report, "confirmed orders").startswith(f"{confirmed} (")
    assert value(report, "revenue") == f"{revenue_minor / 100:,.2f}"
    # the night pause: nothing dialed outside 10:00-22:00 Moscow time; the backlog at the opening
    hours = [datetime.fromtimestamp(t, MSK) for t in attempt_times]
    assert all(10 <= h.hour < 22 for h in hours)
    first = hours[0]
    assert (first.hour, first.minute) == (10, 0) or (first.hour == 10 and first.minute < 2)


def test_the_demos_report_reconciles_with_its_live_counts(tmp_path):
    """What the demo counted live (leads it sent, calls it saw end) is what its report says."""
    result = subprocess.run(
        [sys.executable, "-m", "dialerd.cli", "demo", "--duration", "8", "--no-live"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (live,) = [line for line in result.stdout.splitlines() if "live counts" in line]
    counts = re.search(
        r"leads sent (\d+): received (\d+) \((\d+) stored \+ (\d+) duplicates\), invalid (\d+)"
        r"  attempts (\d+), answered (\d+), abandoned (\d+)",
        live,
    )
    assert counts, live
    sent, received, stored, duplicates, invalid, attempts, answered, abandoned = map(
        int, counts.groups()
    )
    assert sent == received + invalid and received == stored + duplicates
    report = result.stdout
    assert value(report, "leads received") == (
        f"{received} ({stored} stored + {duplicates} duplicates)"
    )
    assert value(report, "invalid leads rejected").startswith(f"{invalid} ")
    assert value(report, "attempts").startswith(f"{attempts} (")
    assert value(report, "answered") == str(answered) and answered > 0
    assert abandoned == 0 or value(report, "abandoned") == str(abandoned)
    # operators were at work: staffed all the calling window, busy part of it
    assert float(value(report, "staffed hours")) > 4 * 10
    assert value(report, "occupancy") not in ("—", "0%")
