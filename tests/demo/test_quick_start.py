"""The README's Quick start is true (issue 15): every ``./dev demo`` line in it is run with
its arguments exactly as written (read from the README itself), through the command
``./dev`` execs, and ends with the day's report; piped, it shows progress within seconds;
and the options it names exist."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start() -> list[str]:
    """The shell lines of the README's Quick start (comments dropped)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def demo_lines() -> list[list[str]]:
    return [shlex.split(line)[2:] for line in quick_start() if line.startswith("./dev demo")]


def test_dev_passes_demo_arguments_through_unchanged():
    dev = (ROOT / "dev").read_text()
    assert 'exec .venv/bin/dialerd demo "$@"' in dev
    assert [line.split()[:2] for line in quick_start()] == [
        ["./dev", "demo"],
        ["./dev", "demo"],
        ["./dev", "test"],
        ["./dev", "test"],
    ]


def test_every_quick_start_demo_runs_as_written_and_shows_progress_at_once(tmp_path):
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    started = time.monotonic()
    runs = []
    for args in demo_lines():
        process = subprocess.Popen(
            [sys.executable, "-m", "dialerd.cli", "demo", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        runs.append((args, process))
    for args, process in runs:
        assert process.stdout is not None
        first = process.stdout.readline()
        # piped: a first line at once, not the whole day buffered until the end
        assert first.startswith("dialerd demo:"), (args, first)
        assert time.monotonic() - started < 20, f"no output for {time.monotonic() - started:.0f} s"
    for args, process in runs:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, (args, err[-2000:])
        assert "Traceback" not in err
        assert "The day's report" in out, (args, out[-2000:])
        hours = re.findall(r"^(Mon|Tue) \d\d:\d\d ", out, re.M)
        assert len(hours) >= 20, f"{args}: {len(hours)} hourly lines"
    assert time.monotonic() - started < 150  # "about a minute"


def test_demo_help_names_the_options_the_readme_names():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    done = subprocess.run(
        [sys.executable, "-m", "dialerd.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    for option in set(re.findall(r"`(--[a-z-]+)", section)):
        assert option in done.stdout, option
