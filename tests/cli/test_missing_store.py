"""Commands that only read never create a store (issue 11).

A mistyped ``store.path`` (or no config at all) used to create an empty store, and its
directory, and print an empty table as if all was well. A read now names the missing path
and exits 2; only the commands that add something create the store.
"""

import sqlite3
from pathlib import Path

import pytest

from dialerd.cli.main import EXIT_USAGE, main

OPERATORS = """
groups:
  sales: {queue: sales, context: operators, exten: "600"}
operators:
  - {name: "101", group: sales, interface: Local/101@operators}
"""

READS = [
    ["leads", "list"],
    ["leads", "show", "1"],
    ["plan"],
    ["explain", "1"],
    ["report"],
    ["staffing"],
    ["operators"],
    ["outbox", "list"],
    ["dnc", "list"],
    # these change only rows that already exist: nothing to do in a store that is not there
    ["outbox", "retry", "--all-parked"],
    ["dnc", "remove", "+7495"],
]


def config(tmp_path: Path, store: Path) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(f"store:\n  path: {store}\n{OPERATORS}")
    return path


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_read_on_a_missing_store_names_it_and_creates_nothing(tmp_path, capsys, command):
    store = tmp_path / "typo" / "dialerd.sqlite3"
    assert main([*command, "--config", str(config(tmp_path, store))]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert err == f"dialerd: no store at {store} (check store.path; 'dialerd migrate' creates it)\n"
    assert out == ""
    assert not store.parent.exists()


def test_a_read_on_a_missing_store_in_an_existing_directory_creates_no_file(tmp_path, capsys):
    store = tmp_path / "dialerd.sqlite3"
    assert main(["leads", "list", "--config", str(config(tmp_path, store))]) == EXIT_USAGE
    assert "no store at" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dialerd.yaml"]


def test_a_read_on_an_existing_unmigrated_store_still_works(tmp_path, capsys):
    store = tmp_path / "dialerd.sqlite3"
    sqlite3.connect(store).close()  # an empty SQLite file: migrated on open, as before
    assert (
        main(["leads", "list", "--format", "json", "--config", str(config(tmp_path, store))]) == 0
    )
    assert capsys.readouterr().out.strip() == "[]"


@pytest.mark.parametrize(
    "command",
    [["migrate"], ["leads", "add", "+79161234567"], ["dnc", "add", "+7495"]],
    ids=" ".join,
)
def test_commands_that_add_something_create_the_store(tmp_path, capsys, command):
    store = tmp_path / "new" / "dialerd.sqlite3"
    assert main([*command, "--config", str(config(tmp_path, store))]) == 0
    assert store.exists()
    assert main(["leads", "list", "--config", str(config(tmp_path, store))]) == 0


def test_check_config_warns_about_a_store_directory_that_does_not_exist(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("DIALERD_AMI__SECRET", "s3cret")  # check-config fails without it
    monkeypatch.setenv("DIALERD_API__ENABLED", "false")
    store = tmp_path / "typo" / "dialerd.sqlite3"
    assert main(["check-config", "--config", str(config(tmp_path, store))]) == 0
    err = capsys.readouterr().err
    assert f"dialerd: warning: store.path: directory {store.parent} does not exist" in err
    assert not store.parent.exists()

    store.parent.mkdir()
    assert main(["check-config", "--config", str(config(tmp_path, store))]) == 0
    assert "store.path" not in capsys.readouterr().err
