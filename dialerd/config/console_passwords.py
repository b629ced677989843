"""The console's password file (issue 12): one ``name:$argon2id$...`` line per user; blank
lines and whole-line ``#`` comments allowed.

Passwords are kept only as argon2id hashes (argon2-cffi's ``PasswordHasher`` with its
defaults, RFC 9106's low-memory profile), in a file of their own rather than the YAML or
the store: ``dialerd operators passwd NAME`` writes it, the daemon only reads it, and it
is a secret like ``ami.secret_file``, so nothing here logs a password or a hash.

The file is written whole to a temporary file in its own directory and moved over the old
one (``os.replace``), so a reader sees the old file or the new, never half of one. The
temporary file is created 0600 (``mkstemp``), so the hashes are never readable by others,
not even for a moment; run as root, the new file keeps the old one's owner (or takes its
directory's, the daemon's state directory), or the daemon could no longer read it.

Two writers at once (two ``passwd`` commands) may lose one of the changes: the last move
wins. Setting passwords is a rare, manual act, so no lock is taken.

Verifying costs ~0.1 s of CPU and 64 MiB by design: callers in the event loop run
``check_login`` in a thread and keep few of them running at once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from dialerd.config.errors import ConfigError
from dialerd.config.settings import Settings

DEFAULT_FILE_NAME = "console.passwords"
MIN_PASSWORD_CHARS = 8
# a name as the file can hold it: operator names (config/operators.py) all pass
_NAME = re.compile(r"[^\s:#]{1,64}")
_EXPECTED = "expected NAME:$argon2id$... (as 'dialerd operators passwd NAME' writes it)"

_hasher = PasswordHasher()


def passwords_path(settings: Settings) -> Path:
    """``console.passwords_file`` when the config names one, else beside the store.

    The store's directory is the daemon's own (systemd's ``StateDirectory``): the one
    place it can read and nobody else can.
    """
    configured = getattr(getattr(settings, "console", None), "passwords_file", None)
    if configured is not None:
        return Path(configured)
    return settings.store.path.parent / DEFAULT_FILE_NAME


def read_passwords(path: Path) -> dict[str, str]:
    """Name → hash. A missing file holds nobody (no console sign-in yet), not an error.

    Every malformed line is reported at once, by file and line, never by its content (a
    password pasted into the file by mistake must not end up in a log).
    """
    text = _read_text(path)
    return {} if text is None else _parse(path, text)


def set_password(path: Path, name: str, password: str) -> None:
    """Hash ``password`` and write it as ``name``'s line; other lines and comments stay.

    ValueError for a name the file cannot hold, or a password shorter than
    ``MIN_PASSWORD_CHARS``. A file that does not parse is refused (ConfigError naming the
    line) and left as it is: rewriting it would carry the fault along, or drop it silently.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r}: not a name the password file can hold")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a console password has at least {MIN_PASSWORD_CHARS} characters")
    text = _read_text(path)
    if text is not None:
        _parse(path, text)
    lines = _lines(text or "")
    entry = f"{name}:{_hasher.hash(password)}"
    for n, line in enumerate(lines):
        if _name_of(line) == name:
            lines[n] = entry
            break
    else:
        lines.append(entry)
    _write_atomically(path, "".join(f"{line}\n" for line in lines))


def verify(hashed: str, password: str) -> bool:
    """The password matches the hash; a hash argon2 cannot read never matches."""
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def check_login(passwords: Mapping[str, str], name: str, password: str) -> bool:
    """``name`` is in the file and ``password`` is theirs.

    An unknown name costs the same argon2 verification (against a hash nobody knows the
    password of), so the time of the answer does not tell which names exist.
    """
    hashed = passwords.get(name)
    if hashed is None:
        verify(_dummy_hash(), password)
        return False
    return verify(hashed, password)


def needs_rehash(hashed: str) -> bool:
    """The hash was made with other parameters than today's defaults (or is unreadable).

    The daemon does not rewrite the file itself (it may only read it, and a sign-in should
    not write a secret file); the console may tell the operator, and the next
    ``dialerd operators passwd`` hashes with the current parameters.
    """
    try:
        return _hasher.check_needs_rehash(hashed)
    except InvalidHashError:
        return True


def warm_up() -> None:
    """Make the dummy hash now (~0.1 s), so the first unknown name is not the slow one."""
    _dummy_hash()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"{path}: cannot read: {reason}"]) from None


def _lines(text: str) -> list[str]:
    """Lines as an editor numbers them (``str.splitlines`` also splits at form feeds etc.)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _name_of(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    return stripped.partition(":")[0]


def _parse(path: Path, text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems = []
    for number, line in enumerate(_lines(text), start=1):
        name = _name_of(line)
        if name is None:
            continue
        _, colon, hashed = line.strip().partition(":")
        where = f"{path}:{number}"
        if not colon or not _NAME.fullmatch(name):
            problems.append(f"{where}: {_EXPECTED}")
        elif not _is_argon2(hashed):
            problems.append(f"{where}: {name}: not an argon2 hash; {_EXPECTED}")
        elif name in found:
            problems.append(f"{where}: {name} again (first on line {first_line[name]})")
        else:
            found[name] = hashed
            first_line[name] = number
    if problems:
        raise ConfigError(problems)
    return found


def _is_argon2(hashed: str) -> bool:
    try:
        extract_parameters(hashed)
    except InvalidHashError:
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    directory = path.parent
    if not directory.is_dir():
        raise ConfigError([f"{path}: cannot write: directory {directory} does not exist"])
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot write: {exc.strerror}"]) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)  # mkstemp's mode already; whatever the umask
            _keep_owner(file.fileno(), path)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ConfigError([f"{path}: cannot write: {exc.strerror}"]) from None
        raise
    _sync_directory(directory)


def _keep_owner(fd: int, path: Path) -> None:
    """Run as root: the old file's owner, else its directory's (only root can chown)."""
    if os.geteuid() != 0:
        return
    try:
        owner = path.stat()
    except FileNotFoundError:
        owner = path.parent.stat()
    os.fchown(fd, owner.st_uid, owner.st_gid)


def _sync_directory(directory: Path) -> None:
    """The rename itself reaches the disk (a crash right after keeps the new file)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
