"""The dialplan shipped in ``config/asterisk/`` (the one the real-Asterisk tests load), linted."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dialerd.config import DialingSettings

ASTERISK_CONFIG = Path(__file__).resolve().parents[2] / "config" / "asterisk"


def asterisklint(*args: str) -> subprocess.CompletedProcess[str]:
    """Run asterisklint (a test dependency) from this venv, on extensions.conf and its #includes."""
    found = Path(sys.executable).with_name("asterisklint")
    command = str(found) if found.exists() else shutil.which("asterisklint")
    if command is None:
        pytest.fail("asterisklint is missing: pip install -e '.[test]'", pytrace=False)
    env = {k: v for k, v in os.environ.items() if k != "ALINT_IGNORE"}  # suppress nothing
    return subprocess.run(
        [command, *args, "extensions.conf"],
        cwd=ASTERISK_CONFIG,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_dialplan_check_reports_nothing():
    result = asterisklint("dialplan-check")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_default_destination_of_an_answered_call_exists():
    """``dialing.context``/``exten`` out of the box must lead somewhere in the shipped dialplan."""
    result = asterisklint("dialplan-show")
    assert result.returncode == 0, result.stderr
    extens: dict[str, set[str]] = {}
    context = ""
    for line in result.stdout.splitlines():
        if match := re.match(r"\[ Context '([^']+)'", line):
            context = match[1]
            extens[context] = set()
        elif match := re.match(r"  '([^']+)' =>", line):
            extens[context].add(match[1])
    defaults = DialingSettings()
    assert defaults.exten in extens[defaults.context]
    assert "600" in extens["operators"]  # the queue [dialer-connect] sends the customer to
