"""The console's password file: argon2 hashes only, written whole, 0600, errors by line."""

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from dialerd.config import ConfigError
from dialerd.config import console_passwords as passwords
from dialerd.config.console_passwords import (
    check_login,
    needs_rehash,
    passwords_path,
    read_passwords,
    set_password,
    verify,
)

# cheap parameters for the hashes tests write by hand; set_password uses the defaults
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_file_holds_nobody(tmp_path):
    assert read_passwords(tmp_path / "console.passwords") == {}


def test_round_trip_and_check_login(tmp_path):
    path = tmp_path / "console.passwords"
    set_password(path, "anna", "correct horse")
    users = read_passwords(path)
    assert list(users) == ["anna"] and users["anna"].startswith("$argon2id$")
    assert "correct horse" not in path.read_text()
    assert check_login(users, "anna", "correct horse")
    assert not check_login(users, "anna", "correct hors")
    assert not check_login(users, "boris", "correct horse")
    assert not needs_rehash(users["anna"])


def test_a_new_file_is_0600_whatever_the_umask_and_never_readable_by_others(tmp_path, monkeypatch):
    path = tmp_path / "console.passwords"
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append(mode(Path(src)))  # the temporary file, just before it becomes the file
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    old = os.umask(0)
    try:
        set_password(path, "anna", "correct horse")
    finally:
        os.umask(old)
    assert seen == [0o600] and mode(path) == 0o600


def test_rewriting_a_readable_file_makes_it_0600(tmp_path):
    path = tmp_path / "console.passwords"
    path.write_text(f"boris:{FAST.hash('secret-b')}\n")
    path.chmod(0o644)
    set_password(path, "anna", "correct horse")
    assert mode(path) == 0o600


def test_other_lines_and_comments_are_kept_in_their_order(tmp_path):
    path = tmp_path / "console.passwords"
    boris, vera, old_anna = FAST.hash("secret-b"), FAST.hash("secret-v"), FAST.hash("old")
    path.write_text(
        f"# console users\nboris:{boris}\n\n  # anna is new\nanna:{old_anna}\r\nvera:{vera}\n"
    )
    set_password(path, "anna", "correct horse")
    lines = path.read_text().split("\n")
    assert lines[:4] == ["# console users", f"boris:{boris}", "", "  # anna is new"]
    assert lines[4].startswith("anna:$argon2id$") and lines[4] != f"anna:{old_anna}"
    assert lines[5:] == [f"vera:{vera}", ""]
    users = read_passwords(path)
    assert list(users) == ["boris", "anna", "vera"]
    assert check_login(users, "anna", "correct horse") and not check_login(users, "anna", "old")
    assert check_login(users, "vera", "secret-v")

    set_password(path, "gleb", "another one")
    assert list(read_passwords(path)) == ["boris", "anna", "vera", "gleb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["console.passwords"]  # no temp left


def test_malformed_lines_are_named_by_file_and_line_never_by_content(tmp_path):
    path = tmp_path / "console.passwords"
    good = FAST.hash("secret")
    path.write_text(
        f"# ok\nanna:{good}\nhunter2-typed-here\nboris:$2b$12$notargon\n"
        f":{good}\nanna:{good}\nvera:{good[:20]}\n"
    )
    with pytest.raises(ConfigError) as caught:
        read_passwords(path)
    assert caught.value.problems == [
        f"{path}:3: expected NAME:$argon2id$... (as 'dialerd operators passwd NAME' writes it)",
        f"{path}:4: boris: not an argon2 hash; expected NAME:$argon2id$..."
        " (as 'dialerd operators passwd NAME' writes it)",
        f"{path}:5: expected NAME:$argon2id$... (as 'dialerd operators passwd NAME' writes it)",
        f"{path}:6: anna again (first on line 2)",
        f"{path}:7: vera: not an argon2 hash; expected NAME:$argon2id$..."
        " (as 'dialerd operators passwd NAME' writes it)",
    ]
    assert "hunter2" not in str(caught.value) and good not in str(caught.value)


def test_set_password_leaves_a_malformed_file_as_it_is(tmp_path):
    path = tmp_path / "console.passwords"
    path.write_text("garbage\n")
    with pytest.raises(ConfigError, match=r"console\.passwords:1: expected NAME"):
        set_password(path, "anna", "correct horse")
    assert path.read_text() == "garbage\n"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "console.passwords"
    path.write_text(f"boris:{FAST.hash('secret-b')}\n")
    before = path.read_text()

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(ConfigError) as caught:
        set_password(path, "anna", "correct horse")
    assert caught.value.problems == [f"{path}: cannot write: No space left on device"]
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["console.passwords"]


def test_a_missing_directory_and_an_unreadable_path_are_named(tmp_path):
    path = tmp_path / "nowhere" / "console.passwords"
    with pytest.raises(ConfigError) as caught:
        set_password(path, "anna", "correct horse")
    assert caught.value.problems == [
        f"{path}: cannot write: directory {path.parent} does not exist"
    ]
    assert not path.parent.exists()
    with pytest.raises(ConfigError, match=r"cannot read: Is a directory"):
        read_passwords(tmp_path)


@pytest.mark.parametrize("name", ["", "an na", "an:na", "#anna", "a\nb", "x" * 65])
def test_a_name_the_file_cannot_hold_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="not a name the password file can hold"):
        set_password(tmp_path / "console.passwords", name, "correct horse")
    assert not (tmp_path / "console.passwords").exists()


def test_an_unknown_name_costs_a_verification_too(monkeypatch):
    """Same work for a name that exists and one that does not: timing tells nothing."""
    calls = []
    real = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda h, p: calls.append(h) or real(h, p))
    users = {"anna": FAST.hash("secret")}
    assert not check_login(users, "nobody", "secret")
    assert check_login(users, "anna", "secret")
    dummy, anna = calls
    assert dummy.startswith("$argon2id$") and anna == users["anna"]
    assert PasswordHasher().check_needs_rehash(dummy) is False  # default cost, like real ones


def test_a_short_password_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 8 characters"):
        set_password(tmp_path / "console.passwords", "anna", "1234567")
    assert not (tmp_path / "console.passwords").exists()
    set_password(tmp_path / "console.passwords", "anna", "12345678")


def test_verify_and_needs_rehash_on_odd_hashes():
    assert not verify("not a hash", "secret")
    assert not verify("", "")
    assert needs_rehash(FAST.hash("secret"))  # cheaper than today's defaults
    assert needs_rehash("not a hash")


def test_the_file_lives_beside_the_store_unless_the_console_section_names_one(make_config):
    settings = make_config().settings
    assert passwords_path(settings) == settings.store.path.parent / "console.passwords"
    configured = SimpleNamespace(
        store=settings.store, console=SimpleNamespace(passwords_file=Path("/etc/dialerd/pw"))
    )
    assert passwords_path(configured) == Path("/etc/dialerd/pw")
    unset = SimpleNamespace(store=settings.store, console=SimpleNamespace(passwords_file=None))
    assert passwords_path(unset) == settings.store.path.parent / "console.passwords"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_run_as_root_the_file_stays_the_daemons(tmp_path):
    """`sudo dialerd operators passwd` must not leave a root-owned file the daemon cannot read."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 4321, 4322)  # the daemon's StateDirectory
    path = state / "console.passwords"
    set_password(path, "anna", "correct horse")
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)
    os.chown(path, 5321, 5322)  # an owner chosen by hand is kept
    set_password(path, "boris", "correct horse")
    assert (path.stat().st_uid, path.stat().st_gid) == (5321, 5322)
