"""`dialerd operators passwd NAME`: a console password set for a configured user only,
written as an argon2 hash to a 0600 file; bad input is one line and exit 2, never a traceback.
"""

import getpass
import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from dialerd.cli.main import EXIT_USAGE, main
from dialerd.cli.operators import _known_users
from dialerd.config.console_passwords import check_login, read_passwords

ROOT = Path(__file__).resolve().parents[2]
OPERATORS = """
groups:
  sales: {queue: sales, context: operators, exten: "600"}
operators:
  - {name: anna, group: sales, interface: Local/101@operators}
  - {name: "102", group: sales, interface: Local/102@operators}
"""


def config(tmp_path: Path) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(f"store:\n  path: {tmp_path / 'state' / 'dialerd.sqlite3'}\n{OPERATORS}")
    (tmp_path / "state").mkdir(exist_ok=True)
    return path


def dialerd(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """The real command, on this checkout's code (not whatever the venv installed)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "dialerd.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_passwd_writes_a_hash_that_verifies(tmp_path):
    cfg = config(tmp_path)
    passwd = ["operators", "passwd", "anna", "--config", str(cfg), "--password-stdin"]
    result = dialerd(*passwd, stdin="correct horse battery\n")
    file = tmp_path / "state" / "console.passwords"
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"password set for anna in {file}\n"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert "correct horse" not in file.read_text()
    users = read_passwords(file)
    assert check_login(users, "anna", "correct horse battery")
    assert not check_login(users, "anna", "correct horse battery\n")
    assert not (tmp_path / "state" / "dialerd.sqlite3").exists()  # the store is not touched

    # --config before the action; another user's line is kept
    passwd = ["operators", "--config", str(cfg), "passwd", "102", "--password-stdin"]
    result = dialerd(*passwd, stdin="another password")
    assert result.returncode == 0, result.stderr
    users = read_passwords(file)
    assert check_login(users, "102", "another password")
    assert check_login(users, "anna", "correct horse battery")


@pytest.mark.parametrize(
    ("name", "stdin", "says"),
    [
        ("anna", "short\n", "dialerd: a console password has at least 8 characters\n"),
        ("anna", "", "dialerd: no password on stdin (one line expected)\n"),
        ("boris", "correct horse battery\n", "dialerd: no operator or supervisor 'boris' in "),
    ],
    ids=["short", "empty", "unknown"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, name, stdin, says):
    cfg = config(tmp_path)
    result = dialerd(
        "operators", "passwd", name, "--config", str(cfg), "--password-stdin", stdin=stdin
    )
    assert result.returncode == EXIT_USAGE and result.stdout == ""
    assert result.stderr.startswith(says) and result.stderr.count("\n") == 1
    assert not (tmp_path / "state" / "console.passwords").exists()


def test_the_unknown_name_message_lists_who_is_known(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    cfg = config(tmp_path)
    assert main(["operators", "passwd", "x", "--config", str(cfg), "--password-stdin"]) == 2
    assert capsys.readouterr().err == (
        f"dialerd: no operator or supervisor 'x' in {cfg} (known: 102, anna)\n"
    )


def test_on_a_terminal_the_password_is_asked_twice(tmp_path, capsys, monkeypatch):
    cfg = config(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["correct horse battery", "correct horse battery", "one", "two"])
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers))
    assert main(["operators", "passwd", "anna", "--config", str(cfg)]) == 0
    assert prompts == ["new console password for anna: ", "the same again: "]
    file = tmp_path / "state" / "console.passwords"
    assert check_login(read_passwords(file), "anna", "correct horse battery")
    before = file.read_text()

    assert main(["operators", "passwd", "anna", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err == ("dialerd: the two passwords differ; nothing was changed\n")
    assert file.read_text() == before


def test_without_a_terminal_or_password_stdin_nothing_is_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    monkeypatch.setattr(getpass, "getpass", lambda prompt: pytest.fail("asked"))
    assert main(["operators", "passwd", "anna", "--config", str(config(tmp_path))]) == 2
    assert capsys.readouterr().err == (
        "dialerd: stdin is not a terminal: pipe the password with --password-stdin\n"
    )


def test_a_password_that_is_not_text_is_refused(tmp_path, capsys, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\xfe12345678\n"), errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stdin)
    cfg = config(tmp_path)
    assert main(["operators", "passwd", "anna", "--config", str(cfg), "--password-stdin"]) == 2
    assert capsys.readouterr().err == "dialerd: the password is not UTF-8 text\n"


def test_a_malformed_password_file_is_named_and_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    cfg = config(tmp_path)
    file = tmp_path / "state" / "console.passwords"
    file.write_text("# users\nanna\n")
    assert main(["operators", "passwd", "anna", "--config", str(cfg), "--password-stdin"]) == 2
    assert capsys.readouterr().err.startswith(f"dialerd: config error: {file}:2: expected NAME:")
    assert file.read_text() == "# users\nanna\n"


def test_known_users_are_the_operators_and_the_consoles_supervisors():
    operators = [SimpleNamespace(name="anna"), SimpleNamespace(name="102")]
    assert _known_users(SimpleNamespace(operators=operators)) == {"anna", "102"}
    console = SimpleNamespace(supervisors=[SimpleNamespace(name="olga")])
    assert _known_users(SimpleNamespace(operators=operators, console=console)) == {
        "anna",
        "102",
        "olga",
    }
