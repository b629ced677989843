"""``systemd/dialerd.service``: what systemd itself says about the shipped unit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dialerd.config import DEFAULT_CONFIG_PATH, DaemonSettings

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "dialerd.service"
EXEC_START = "ExecStart=/usr/local/bin/dialerd "


def settings() -> dict[str, list[str]]:
    """Key → values (a key may repeat, e.g. SystemCallFilter=)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def seconds(value: str) -> float:
    assert value.endswith("s") and value[:-1].isdigit(), f"write plain seconds: {value}"
    return float(value[:-1])


@pytest.fixture
def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        reason = "systemd-analyze not installed (Debian package systemd; ./dev test installs it)"
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The shipped unit, its ExecStart pointed at a stub: ``verify`` requires the binary to exist."""
    stub = tmp_path / "dialerd"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(EXEC_START) == 1
    unit = tmp_path / "dialerd.service"
    unit.write_text(text.replace(EXEC_START, f"ExecStart={stub} "))
    return unit


def test_systemd_analyze_verify_reports_nothing(systemd_analyze: str, verifiable_unit: Path):
    result = subprocess.run(
        [systemd_analyze, "verify", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Unknown keys and bad values are only warnings (exit 0): any output is a finding.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hardening_keeps_the_exposure_level_ok(systemd_analyze: str, verifiable_unit: Path):
    result = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--threshold=20", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_unit_matches_what_the_daemon_does():
    unit = settings()
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["ExecStart"] == [f"/usr/local/bin/dialerd run --config {DEFAULT_CONFIG_PATH}"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert seconds(unit["WatchdogSec"][0]) >= 10  # pinged every WatchdogSec/2
    # systemd's SIGKILL must not cut the drain short
    assert seconds(unit["TimeoutStopSec"][0]) > DaemonSettings().drain_timeout_s
    assert unit["RestartPreventExitStatus"] == ["2"]  # dialerd's exit code for a config error
    assert unit["User"] == unit["Group"] == ["dialerd"]
    assert unit["StateDirectory"] == unit["ConfigurationDirectory"] == ["dialerd"]
    assert unit["EnvironmentFile"] == ["-/etc/dialerd/secrets.env"]
