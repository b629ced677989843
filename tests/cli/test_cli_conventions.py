"""One convention for every command (issue 15), checked on every command there is.

The commands are read from the parser itself, so a new one is checked the day it appears:
each ``--help`` exits 0; each ``--format`` of each command that prints rows runs against a
small real store and exits 0 with no traceback and no log lines on stderr; JSON parses,
keeps Cyrillic as UTF-8 and spells instants as ISO 8601 with an offset (as does CSV);
a table fits 80 columns and shows phone numbers whole.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.report_history import CONFIG, Days, write_history

from dialerd import __version__
from dialerd.cli.main import _parser, main

ROOT = Path(__file__).resolve().parents[2]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)$")
# the arguments a command that prints rows needs, by the parser's name for them
POSITIONALS = {"lead_id": "9", "file": "leads.csv"}
# options that keep a command that would change the store to a look (import: a dry run)
READ_ONLY = {("leads", "import"): ["--dry-run"]}


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and action, with its parser (``operators`` and its ``passwd`` both)."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += leaves(child, (*path, name))
    return found


COMMANDS = leaves(_parser())[1:]
FORMATTED = [
    (path, fmt)
    for path, parser in COMMANDS
    for action in parser._actions
    if "--format" in action.option_strings
    for fmt in action.choices
    if fmt != "html"
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, on this checkout's code (not whatever the venv installed)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "dialerd.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def centre(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """A store with a history of calls, a lead with a Cyrillic name, a DNC entry with a
    long note, and a result waiting for the CRM: a SQLite file, then a PostgreSQL database
    (``store.url`` and its password in the environment, as an operator would put them)."""
    if request.param == "sqlite":
        yield _centre(tmp_path_factory)
        return
    server = request.getfixturevalue("postgres")
    name = server.new_database()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DIALERD_STORE__URL", server.url(name))
            env.setenv("DIALERD_STORE__PASSWORD", server.password)
            yield _centre(tmp_path_factory)
    finally:
        server.drop_database(name)


def _centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("centre")
    config = tmp / "dialerd.yaml"
    settings = {**CONFIG, "store": {"path": str(tmp / "dialerd.sqlite3")}}
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    asyncio.run(write_history(tmp / "dialerd.sqlite3", Days.before(time.time())))
    name = "Анна Сергеевна Кузнецова-Преображенская"
    assert main(["leads", "add", "+7 916 765-43-21", "--name", name, "--config", str(config)]) == 0
    assert (
        main(["leads", "add", "+7 903 111-22-33", "--order-id", "Б-7", "--config", str(config)])
        == 0
    )
    note = "asked never to be called again, in writing, see the complaint of " * 2
    assert main(["dnc", "add", "+79031112233", "--note", note, "--config", str(config)]) == 0
    (tmp / "leads.csv").write_text("phone,name\n+79161112299,Борис\n+7 916 12,bad\n")
    return config


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path, parser, capsys):
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    out, err = capsys.readouterr()
    assert done.value.code == 0 and err == ""
    assert out.startswith("usage: dialerd " + " ".join(path))
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help",):
            assert action.help, f"dialerd {' '.join(path)} {action.option_strings[0]} has no help"


def test_every_row_printing_command_offers_the_three_formats():
    offered: dict[tuple[str, ...], set[str]] = {}
    for path, fmt in FORMATTED:
        offered.setdefault(path, set()).add(fmt)
    for path in (
        ("leads", "list"),
        ("leads", "show"),
        ("plan",),
        ("explain",),
        ("dnc", "list"),
        ("outbox", "list"),
        ("operators",),
        ("staffing",),
        ("report",),
    ):
        assert offered.get(path, set()) >= {"table", "json", "csv"}, path


def instants(data: object, key: str = "") -> list[str]:
    if isinstance(data, dict):
        return [i for k, v in data.items() for i in instants(v, str(k))]
    if isinstance(data, list):
        return [i for v in data for i in instants(v, key)]
    if (key.endswith("_at") or key in ("at", "since")) and data is not None:
        return [data]  # type: ignore[list-item]
    return []


@pytest.mark.parametrize(
    ("path", "fmt"), FORMATTED, ids=[f"{' '.join(p)} {f}" for p, f in FORMATTED]
)
def test_every_format_keeps_the_convention(centre, path, fmt, capsys):
    _, parser = next(item for item in COMMANDS if item[0] == path)
    positionals = [
        POSITIONALS[a.dest]
        for a in parser._actions
        if not a.option_strings and a.dest in POSITIONALS
    ]
    positionals = [str(centre.parent / p) if p.endswith(".csv") else p for p in positionals]
    extra = READ_ONLY.get(path, [])
    code = main([*path, *positionals, *extra, "--format", fmt, "--config", str(centre)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == "", f"stderr of a read-only command: {err!r}"
    assert out.strip(), "nothing printed"
    if fmt == "json":
        data = json.loads(out)
        assert "\\u04" not in out  # Cyrillic as UTF-8, not escaped
        for value in instants(data):
            assert isinstance(value, str) and ISO.match(value), value
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        for row in rows:
            for key, value in row.items():
                if (key.endswith("_at") or key in ("at", "since")) and value:
                    assert ISO.match(value), (key, value)
    else:
        for line in out.splitlines():  # a table's lines: columns apart, or its rules
            if "  " in line.strip() or any(c in line for c in "─│┃━"):
                assert len(line) <= 80, f"{len(line)} columns: {line!r}"
        for phone in re.findall(r"\+7\d*", out):
            assert len(phone) == 12, f"a phone number cut: {phone}"


def test_leads_show_speaks_utf8_and_local_time(centre, capsys):
    assert main(["leads", "list", "--format", "json", "--config", str(centre)]) == 0
    (lead,) = [r["id"] for r in json.loads(capsys.readouterr().out) if r["phone"] == "+79167654321"]
    assert main(["leads", "show", str(lead), "--format", "json", "--config", str(centre)]) == 0
    data = json.loads(out := capsys.readouterr().out)
    assert data["lead"]["name"] == "Анна Сергеевна Кузнецова-Преображенская" and "Анна" in out
    assert data["lead"]["received_at"].endswith("+00:00")
    assert main(["leads", "show", str(lead), "--config", str(centre)]) == 0
    out = capsys.readouterr().out
    assert "+79167654321" in out and re.search(r"received_at\s+\d{4}-\d\d-\d\d \d\d:\d\d", out)


def test_plan_limit_prints_that_many_rows(centre, capsys):
    assert main(["plan", "--limit", "1", "--format", "json", "--config", str(centre)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["plan", "--limit", "3", "--format", "csv", "--config", str(centre)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3


def test_a_long_note_wraps_to_two_lines_and_an_ellipsis(centre, capsys):
    assert main(["dnc", "list", "--config", str(centre)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (n,) = [n for n, line in enumerate(lines) if "+79031112233" in line]
    assert re.search(r"\d\d:\d\d$", lines[n].rstrip())  # the time after the note, whole
    assert lines[n + 1].rstrip().endswith("…") and n + 2 == len(lines)


def test_version_and_a_command_without_its_action():
    done = run("--version")
    assert done.returncode == 0 and done.stdout == f"dialerd {__version__}\n"
    done = run("leads")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("usage: dialerd leads [-h] ACTION")
    assert "add" in done.stderr and "show" in done.stderr and "check-config" not in done.stderr


@pytest.mark.parametrize("by", ["date", "hour", "group", "operator", "campaign"])
def test_a_report_breakdown_table_fits_80_columns(centre, capsys, by):
    first = (Days.before(time.time()).d1).isoformat()
    assert main(["report", "--from", first, "--by", by, "--config", str(centre)]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines()), max(out.splitlines(), key=len)
    assert "handling time" in out and "occupancy" in out  # every column, in more tables
