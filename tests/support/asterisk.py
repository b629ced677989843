"""A real Asterisk for integration tests, run from a cached Debian ``sid`` chroot.

Recipe (needs root; see DESIGN.md section 3):

1. **Build once** (~1 min, cached): ``debootstrap --variant=minbase
   --include=asterisk,baresip-core sid DIR MIRROR`` where MIRROR is the Debian
   mirror from the machine's own apt sources.  DIR defaults to
   ``/var/cache/dialerd/asterisk-sid`` (env ``DIALERD_ASTERISK_CHROOT``).  The
   build goes to a temporary directory next to DIR, gets a stamp file and is
   renamed into place, all under an ``fcntl`` lock, so an interrupted build
   never leaves a chroot that looks complete and two builders never collide.
   debootstrap is installed with apt-get when it is missing.
2. **Start** (under a second): mount ``proc`` and bind ``/dev`` into the chroot,
   give the instance its own directory ``/srv/dialerd-asterisk/ami-<port>/``
   inside the chroot (``etc`` = the project's ``config/asterisk/*.conf`` with a
   per-instance ``[directories]`` section in ``asterisk.conf`` and port/user/
   secret rewritten in ``manager.conf``; ``run`` = control socket; ``log`` =
   the ``full`` log; ``spool``; ``db`` = a fresh astdb), pick a free loopback
   port for AMI and run ``chroot DIR /usr/sbin/asterisk -f -n -C <its
   asterisk.conf>``.  Ready when ``asterisk -rx 'core waitfullybooted'``
   answers and an AMI login succeeds.  Because every instance has its own
   directories, several instances can run from one chroot at the same time.
3. **Stop**: ``core stop now``, then SIGTERM/SIGKILL if needed, and reap the
   process.  When the last instance of the chroot is gone, ``proc`` and
   ``dev`` are unmounted again (leaving nothing mounted that a later
   ``rm -rf`` of the cache could descend into).  Instances whose owning process died are killed at the
   next start; a stopped instance's directory (its logs) is kept as long as
   the process that started it lives.

To throw the cache away: ``PYTHONPATH=tests python -m support.asterisk stop --all``,
check that ``status`` shows no mounts, then delete the directory (``rm -rf``
of a chroot with ``/dev`` bind-mounted would delete the host's ``/dev``).

Use from Python::

    inst = start_asterisk()          # builds the chroot the first time
    inst.cli("core show channels")   # asterisk -rx
    inst.restart()                   # same port, same config, astdb kept
    inst.stop()

or from a shell: ``PYTHONPATH=tests python -m support.asterisk build|start|stop|status``.
The pytest fixture ``asterisk`` lives in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "AsteriskCliError",
    "AsteriskInstance",
    "AsteriskSandboxError",
    "AsteriskStartError",
    "AsteriskUnavailable",
    "asterisk_unavailable_reason",
    "chroot_dir",
    "debian_mirror",
    "default_config_dir",
    "ensure_chroot",
    "list_instances",
    "start_asterisk",
]

log = logging.getLogger(__name__)

CHROOT_ENV = "DIALERD_ASTERISK_CHROOT"
MIRROR_ENV = "DIALERD_DEBIAN_MIRROR"
CONFIG_ENV = "DIALERD_ASTERISK_CONFIG"
DEFAULT_CHROOT = Path("/var/cache/dialerd/asterisk-sid")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

SUITE = "sid"
PACKAGES: tuple[str, ...] = ("asterisk", "baresip-core")
#: Changing this string (suite, packages, variant) makes the cache rebuild.
RECIPE = f"debootstrap --variant=minbase --include={','.join(PACKAGES)} {SUITE}"
STAMP_NAME = ".dialerd-chroot-complete"

ASTERISK_BIN = "/usr/sbin/asterisk"
INSTANCES_ROOT = PurePosixPath("/srv/dialerd-asterisk")  # inside the chroot
INSTANCE_RECORD = "instance.json"
HOST = "127.0.0.1"

DEBOOTSTRAP_TIMEOUT = 1800.0
LOCK_TIMEOUT = 1800.0


class AsteriskSandboxError(RuntimeError):
    """Base class of the harness's errors."""


class AsteriskUnavailable(AsteriskSandboxError):
    """This machine cannot run the sandbox (not root, no debootstrap, no mounts...)."""


class AsteriskStartError(AsteriskSandboxError):
    """Asterisk was started but did not come up (the message has the log tail)."""


class AsteriskCliError(AsteriskSandboxError):
    """``asterisk -rx`` failed (usually: Asterisk is not running)."""


# ---------------------------------------------------------------------------
# locations
# ---------------------------------------------------------------------------


def chroot_dir() -> Path:
    """The cached chroot: ``$DIALERD_ASTERISK_CHROOT`` or ``/var/cache/dialerd/asterisk-sid``."""
    value = os.environ.get(CHROOT_ENV, "").strip()
    return Path(value).absolute() if value else DEFAULT_CHROOT


def default_config_dir() -> Path:
    """The project's Asterisk config set: ``$DIALERD_ASTERISK_CONFIG`` or ``<repo>/config/asterisk``."""
    value = os.environ.get(CONFIG_ENV, "").strip()
    if value:
        return Path(value).absolute()
    return Path(__file__).resolve().parents[2] / "config" / "asterisk"


def _looks_like_debian_mirror(uri: str) -> bool:
    path = uri.split("://", 1)[-1].split("/", 1)[-1] if "://" in uri else ""
    parts = [p for p in path.split("/") if p]
    return (
        uri.startswith(("http://", "https://"))
        and "debian" in parts
        and not any("security" in p for p in parts)
        and "ubuntu" not in uri
    )


def _uris_from_deb822(text: str) -> list[str]:
    uris: list[str] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        enabled = fields.get("enabled", "yes").lower() != "no"
        if (
            enabled
            and "deb" in fields.get("types", "deb").split()
            and "security" not in fields.get("suites", "")
        ):
            uris.extend(fields.get("uris", "").split())
    return uris


def _uris_from_one_line(text: str) -> list[str]:
    uris: list[str] = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # drop [options]
        if len(words) >= 3 and words[0] == "deb" and "security" not in words[2]:
            uris.append(words[1])
    return uris


def parse_apt_sources(deb822: Sequence[str] = (), one_line: Sequence[str] = ()) -> list[str]:
    """Debian archive URIs (not the security archive) from apt source files' text.

    ``deb822``: contents of ``*.sources`` files; ``one_line``: contents of
    ``sources.list`` style files.  Order is preserved, duplicates dropped.
    """
    found = [uri for text in deb822 for uri in _uris_from_deb822(text)]
    found += [uri for text in one_line for uri in _uris_from_one_line(text)]
    result: list[str] = []
    for uri in (u.rstrip("/") for u in found):
        if _looks_like_debian_mirror(uri) and uri not in result:
            result.append(uri)
    return result


def debian_mirror() -> str:
    """The Debian mirror to debootstrap from.

    ``$DIALERD_DEBIAN_MIRROR``, else the first Debian archive URI in the
    machine's apt sources (``/etc/apt/sources.list.d/*.sources``,
    ``/etc/apt/sources.list``), else ``http://deb.debian.org/debian`` (e.g. on
    an Ubuntu CI runner, whose sources point at the Ubuntu archive).
    """
    value = os.environ.get(MIRROR_ENV, "").strip()
    if value:
        return value.rstrip("/")
    deb822: list[str] = []
    one_line: list[str] = []
    sources_d = Path("/etc/apt/sources.list.d")
    with contextlib.suppress(OSError):
        for path in sorted(sources_d.glob("*.sources")):
            with contextlib.suppress(OSError):
                deb822.append(path.read_text(errors="replace"))
        for path in sorted(sources_d.glob("*.list")):
            with contextlib.suppress(OSError):
                one_line.append(path.read_text(errors="replace"))
    with contextlib.suppress(OSError):
        one_line.insert(0, Path("/etc/apt/sources.list").read_text(errors="replace"))
    uris = parse_apt_sources(deb822, one_line)
    return uris[0] if uris else DEFAULT_MIRROR


# ---------------------------------------------------------------------------
# small system helpers
# ---------------------------------------------------------------------------


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:])


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _proc_start_time(pid: int) -> int | None:
    """Start time (clock ticks since boot) of a live, non-zombie process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _pid_is(pid: int | None, start_time: int | None) -> bool:
    """Is ``pid`` alive and still the process that started at ``start_time``?"""
    if not pid:
        return False
    now = _proc_start_time(pid)
    return now is not None and (start_time is None or now == start_time)


def _unescape_mountinfo(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _mount_points() -> list[str]:
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    return [_unescape_mountinfo(line.split()[4]) for line in text.splitlines() if line.strip()]


def _mounts_under(path: Path) -> list[str]:
    root = os.path.realpath(path)
    return [m for m in _mount_points() if m == root or m.startswith(root.rstrip("/") + "/")]


def _is_mount_point(path: Path) -> bool:
    return os.path.realpath(path) in _mount_points()


def _umount(mount_point: str) -> None:
    result = subprocess.run(["umount", mount_point], capture_output=True, text=True, check=False)
    if result.returncode != 0 and mount_point in _mount_points():
        log.warning("umount %s failed (%s); detaching lazily", mount_point, result.stderr.strip())
        subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)


def _safe_rmtree(path: Path) -> None:
    """``rm -rf path`` that first unmounts anything under it (never follows a bind of /dev)."""
    if not path.exists() and not path.is_symlink():
        return
    for mount_point in sorted(_mounts_under(path), key=len, reverse=True):
        _umount(mount_point)
    left = _mounts_under(path)
    if left:
        raise AsteriskSandboxError(f"refusing to delete {path}: still mounted: {left}")
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _locked(chroot: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive lock for building/starting/stopping in one chroot (``.<name>.lock`` beside it)."""
    chroot.parent.mkdir(parents=True, exist_ok=True)
    lock_path = chroot.parent / f".{chroot.name}.lock"
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise AsteriskUnavailable(
                        f"timed out waiting for the lock {lock_path}"
                    ) from exc
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ---------------------------------------------------------------------------
# building the chroot
# ---------------------------------------------------------------------------


def _read_stamp(chroot: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((chroot / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _chroot_ready(chroot: Path) -> bool:
    stamp = _read_stamp(chroot)
    return (
        stamp is not None
        and stamp.get("recipe") == RECIPE
        and (chroot / ASTERISK_BIN.lstrip("/")).is_file()
    )


def asterisk_unavailable_reason() -> str | None:
    """Why this machine cannot run the sandbox, or None if it (probably) can.

    Cheap checks only: Linux, root, the chroot/mount tools, and either a built
    chroot or a way to build one (debootstrap, or apt-get to install it).
    """
    if not sys.platform.startswith("linux"):
        return f"the Asterisk sandbox needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "not root (the Asterisk sandbox needs root for debootstrap, chroot and mount)"
    for tool in ("chroot", "mount", "umount"):
        if _which(tool) is None:
            return f"{tool} is not installed"
    if _chroot_ready(chroot_dir()):
        return None
    if _which("debootstrap") is None and _which("apt-get") is None:
        return "debootstrap is not installed and there is no apt-get to install it"
    return None


def _ensure_debootstrap(build_log: Path) -> str:
    """Path of debootstrap, installing it (and Debian's keyring) with apt-get if needed."""
    need = []
    if _which("debootstrap") is None:
        need.append("debootstrap")
    if not DEBIAN_KEYRING.exists():
        need.append("debian-archive-keyring")
    if need:
        apt_get = _which("apt-get")
        if apt_get is None or os.geteuid() != 0:
            raise AsteriskUnavailable(f"{' '.join(need)} not installed and not installable")
        log.info("installing %s with apt-get", " ".join(need))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        with open(build_log, "ab") as out:
            for cmd in ([apt_get, "update"], [apt_get, "install", "-y", *need]):
                out.write(f"\n$ {' '.join(cmd)}\n".encode())
                out.flush()
                result = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    check=False,
                    timeout=900,
                )
                if result.returncode != 0:
                    raise AsteriskUnavailable(
                        f"debootstrap not installable ({' '.join(cmd)} exited "
                        f"{result.returncode}):\n{_tail(build_log, 20)}"
                    )
    debootstrap = _which("debootstrap")
    if debootstrap is None:
        raise AsteriskUnavailable("debootstrap not installable (not found after apt-get install)")
    return debootstrap


def ensure_chroot(path: Path | None = None) -> Path:
    """Return the cached chroot, building it first if needed (~1 min, needs root and network)."""
    chroot = (path or chroot_dir()).absolute()
    if _chroot_ready(chroot):
        return chroot
    if os.geteuid() != 0:
        raise AsteriskUnavailable("not root (cannot build the Asterisk chroot)")
    with _locked(chroot):
        if _chroot_ready(chroot):
            return chroot
        parent = chroot.parent
        build_log = parent / f"{chroot.name}.build.log"
        build_log.write_text(f"# {datetime.now(UTC).isoformat()} building {chroot}\n")
        debootstrap = _ensure_debootstrap(build_log)
        # Leftovers of interrupted builds: nobody else builds while we hold the lock.
        for leftover in [
            *parent.glob(f"{chroot.name}.build-*"),
            *parent.glob(f"{chroot.name}.old-*"),
        ]:
            log.info("removing leftover %s", leftover)
            _safe_rmtree(leftover)
        if chroot.exists():
            # Incomplete or built by another recipe.  Keep it if instances still use it.
            if list_instances(chroot, alive_only=True):
                log.warning("%s is outdated but in use; not rebuilding it now", chroot)
                return chroot
            old = parent / f"{chroot.name}.old-{os.getpid()}"
            os.rename(chroot, old)
            _safe_rmtree(old)
        tmp = Path(tempfile.mkdtemp(prefix=f"{chroot.name}.build-", dir=parent))
        try:
            _debootstrap(debootstrap, tmp, build_log)
            os.rename(tmp, chroot)  # atomic: the chroot appears complete or not at all
        except BaseException:
            _safe_rmtree(tmp)
            raise
    return chroot


def _debootstrap(debootstrap: str, target: Path, build_log: Path) -> None:
    """Run debootstrap into ``target`` and write the stamp file there."""
    mirror = debian_mirror()
    target.chmod(0o755)
    cmd = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}"]
    if DEBIAN_KEYRING.exists():
        cmd.append(f"--keyring={DEBIAN_KEYRING}")
    cmd += [SUITE, str(target), mirror]
    log.info("building the Asterisk chroot (about a minute): %s", " ".join(cmd))
    started = time.monotonic()
    with open(build_log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=DEBOOTSTRAP_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise AsteriskUnavailable(
                f"debootstrap timed out after {DEBOOTSTRAP_TIMEOUT:.0f} s:\n{_tail(build_log)}"
            ) from exc
    if result.returncode != 0:
        raise AsteriskUnavailable(
            f"debootstrap failed (exit {result.returncode}, mirror {mirror}); "
            f"log {build_log}:\n{_tail(build_log)}"
        )
    if not (target / ASTERISK_BIN.lstrip("/")).is_file():
        raise AsteriskUnavailable(f"debootstrap finished but {ASTERISK_BIN} is missing")
    version = subprocess.run(
        ["chroot", str(target), "dpkg-query", "-W", "-f=${Version}", "asterisk"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    stamp = {
        "recipe": RECIPE,
        "mirror": mirror,
        "asterisk": version,
        "built": datetime.now(UTC).isoformat(),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (target / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")
    log.info("built the chroot (asterisk %s) in %.0f s", version, stamp["build_seconds"])


# ---------------------------------------------------------------------------
# config rendering
# ---------------------------------------------------------------------------

_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]+$")


def _split_sections(text: str) -> list[tuple[str | None, list[str]]]:
    """Lines grouped by section: [(None, preamble), (name, [header, ...]), ...]."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        match = _SECTION_RE.match(line)
        if match:
            sections.append((match.group(1).strip(), [line]))
        else:
            sections[-1][1].append(line)
    return sections


def _set_option(lines: list[str], key: str, value: str) -> list[str]:
    """Set ``key = value`` in a section's lines (header first), keeping a trailing comment."""
    pattern = re.compile(rf"^(\s*{re.escape(key)}\s*=>?\s*)([^;]*?)(\s*;.*)?$", re.IGNORECASE)
    out, done = [], False
    for line in lines:
        match = pattern.match(line)
        if match and not done:
            out.append(f"{match.group(1)}{value}{match.group(3) or ''}")
            done = True
        elif match:
            continue  # a duplicate key would override ours
        else:
            out.append(line)
    if not done:
        out.insert(1, f"{key} = {value}")
    return out


#: The second AMI user the harness adds for tests' observers (``AmiObserver.of``): every
#: event, no ``eventfilter``, so what a test sees never depends on the daemon's filter.
OBSERVER_USER = "observer"


def render_manager_conf(
    text: str, *, port: int, username: str, secret: str, bindaddr: str = HOST
) -> str:
    """``manager.conf`` with the port/bindaddr of ``[general]`` and the one user's name and
    secret replaced (its permissions and event filter kept as shipped), plus the observers'
    user ``OBSERVER_USER`` with the same secret, ``read = all`` and no filter."""
    if not _NAME_RE.match(username):
        raise ValueError(f"bad AMI username {username!r}")
    if username == OBSERVER_USER:
        raise ValueError(f"AMI username {OBSERVER_USER!r} is the observers'")
    if not re.fullmatch(r"[^\s;\[\]]+", secret):
        raise ValueError("AMI secret must not contain whitespace, ';' or brackets")
    sections = _split_sections(text)
    users = [name for name, _ in sections if name is not None and name.lower() != "general"]
    if len(users) > 1:
        raise ValueError(f"manager.conf must define exactly one AMI user, found {users}")
    out: list[str] = []
    have_general = have_user = False
    for name, lines in sections:
        if name is not None and name.lower() == "general":
            have_general = True
            lines = _set_option(_set_option(lines, "port", str(port)), "bindaddr", bindaddr)
            lines = _set_option(lines, "enabled", "yes")
        elif name is not None:
            have_user = True
            lines = [_SECTION_RE.sub(f"[{username}]", lines[0], count=1), *lines[1:]]
            lines = _set_option(lines, "secret", secret)
        out.extend(lines)
    if not have_general:
        out += ["", "[general]", "enabled = yes", f"port = {port}", f"bindaddr = {bindaddr}"]
    if not have_user:
        out += [
            "",
            f"[{username}]",
            f"secret = {secret}",
            "deny = 0.0.0.0/0.0.0.0",
            f"permit = {bindaddr}/255.255.255.255",
            "read = all",
            "write = all",
        ]
    out += [
        "",
        f"[{OBSERVER_USER}]  ; tests' observers: every event, unfiltered",
        f"secret = {secret}",
        "deny = 0.0.0.0/0.0.0.0",
        f"permit = {bindaddr}/255.255.255.255",
        "read = all",
        "write = all",
        "writetimeout = 5000",
    ]
    return "\n".join(out) + "\n"


def render_http_conf(text: str, *, bindaddr: str, port: int) -> str:
    """``http.conf`` with ``[general]``'s bindaddr/bindport replaced: each instance its own
    HTTP (WebSocket) port, so instances side by side never fight over 8088."""
    out: list[str] = []
    have_general = False
    for name, lines in _split_sections(text):
        if name is not None and name.lower() == "general":
            have_general = True
            lines = _set_option(_set_option(lines, "bindport", str(port)), "bindaddr", bindaddr)
        out.extend(lines)
    if not have_general:
        return text
    return "\n".join(out) + "\n"


def render_asterisk_conf(text: str, directories: Mapping[str, str]) -> str:
    """``asterisk.conf`` with its ``[directories]`` section replaced by ``directories``."""
    kept = [
        line
        for name, lines in _split_sections(text)
        if name is None or name.lower() != "directories"
        for line in lines
    ]
    header = ["[directories]", "; written by tests/support/asterisk.py for this sandbox instance"]
    header += [f"{key} => {value}" for key, value in directories.items()]
    return "\n".join([*header, "", *kept]) + "\n"


# ---------------------------------------------------------------------------
# AMI login probe (plain sockets: works without an event loop)
# ---------------------------------------------------------------------------


def _ami_login_probe(host: str, port: int, username: str, secret: str, timeout: float) -> None:
    """Log in to AMI and log off.  OSError if not reachable, AsteriskStartError if refused."""
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        sock.makefile("rb") as reader,
    ):
        banner = reader.readline()
        if not banner.startswith(b"Asterisk Call Manager/"):
            raise AsteriskStartError(f"unexpected AMI banner {banner!r} on {host}:{port}")
        sock.sendall(
            (
                f"Action: Login\r\nActionID: harness-login\r\nUsername: {username}\r\n"
                f"Secret: {secret}\r\nEvents: off\r\n\r\n"
            ).encode()
        )
        frame: dict[str, str] = {}
        while True:
            line = reader.readline()
            if not line:
                raise ConnectionError("AMI closed the connection during login")
            line = line.strip()
            if line:
                key, _, value = line.decode(errors="replace").partition(":")
                frame[key.strip().lower()] = value.strip()
                continue
            if frame.get("actionid") == "harness-login" or "response" in frame:
                break
            frame = {}
        if frame.get("response", "").lower() != "success":
            raise AsteriskStartError(f"AMI login as {username!r} refused: {frame.get('message')}")
        with contextlib.suppress(OSError):
            sock.sendall(b"Action: Logoff\r\nActionID: harness-logoff\r\n\r\n")


# ---------------------------------------------------------------------------
# instances
# ---------------------------------------------------------------------------

_owned: set[AsteriskInstance] = set()


def _free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(eq=False)
class AsteriskInstance:
    """One sandboxed Asterisk: AMI at ``host:port`` with ``username``/``secret``."""

    host: str
    port: int
    username: str
    secret: str
    chroot: Path
    #: host path of the ``full`` log (verbose dialplan lines, notices, errors)
    log_path: Path
    #: host path of this instance's directory inside the chroot (etc, run, log, spool, db)
    instance_dir: Path
    #: host path of Asterisk's own stdout/stderr (startup failures end up here)
    console_log_path: Path
    detached: bool = False
    boot_timeout: float = 60.0
    #: where Asterisk's HTTP server (SIP over WebSocket at ``/ws``) listens, if http.conf is used
    http_host: str = HOST
    http_port: int = 0
    pid: int | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _pid_start: int | None = field(default=None, repr=False)

    # --- paths -------------------------------------------------------------

    @property
    def etc_dir(self) -> Path:
        """Host path of this instance's config dir (astetcdir); edit, then ``cli('... reload')``."""
        return self.instance_dir / "etc"

    def in_chroot(self, host_path: Path) -> str:
        """The path Asterisk sees for a host path inside the chroot."""
        return "/" + str(host_path.absolute().relative_to(self.chroot)).lstrip("/")

    @property
    def asterisk_conf(self) -> str:
        """``-C`` argument: this instance's asterisk.conf as seen inside the chroot."""
        return self.in_chroot(self.etc_dir / "asterisk.conf")

    @property
    def ctl_socket(self) -> Path:
        return self.instance_dir / "run" / "asterisk.ctl"

    def cli_argv(self, command: str) -> list[str]:
        """argv of ``asterisk -rx command`` for this instance (run it as root)."""
        return [
            "chroot",
            str(self.chroot),
            ASTERISK_BIN,
            "-n",
            "-C",
            self.asterisk_conf,
            "-rx",
            command,
        ]

    # --- control -----------------------------------------------------------

    def cli(self, command: str, timeout: float = 10) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``) and return its output."""
        try:
            result = subprocess.run(
                self.cli_argv(command),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AsteriskCliError(f"asterisk -rx {command!r} timed out after {timeout} s") from exc
        if result.returncode != 0:
            raise AsteriskCliError(
                f"asterisk -rx {command!r} exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def is_running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return _pid_is(self.pid, self._pid_start)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the ``full`` log and of Asterisk's stdout/stderr, for error messages."""
        return (
            f"--- {self.log_path} (last {lines} lines)\n{_tail(self.log_path, lines)}\n"
            f"--- {self.console_log_path}\n{_tail(self.console_log_path, lines)}"
        )

    def restart(self) -> None:
        """Stop Asterisk and start it again on the same port with the same config (astdb kept)."""
        self._terminate()
        with _locked(self.chroot):
            _ensure_mounts(self.chroot)
            self._launch()
        self._wait_ready()

    def stop(self, timeout: float = 10.0) -> None:
        """``core stop now``, then SIGTERM/SIGKILL if needed; reap; unmount if last instance."""
        try:
            self._terminate(timeout)
        finally:
            _owned.discard(self)
            with _locked(self.chroot):
                self._write_record(state="stopped")
                _release_mounts_if_idle(self.chroot)

    def __enter__(self) -> AsteriskInstance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- internals ---------------------------------------------------------

    def _record(self, state: str) -> dict[str, Any]:
        owner = None if self.detached else os.getpid()
        return {
            "state": state,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "secret": self.secret,
            "pid": self.pid,
            "pid_start": self._pid_start,
            "owner_pid": owner,
            "owner_start": _proc_start_time(owner) if owner else None,
            "boot_timeout": self.boot_timeout,
            "http_host": self.http_host,
            "http_port": self.http_port,
        }

    def _write_record(self, state: str) -> None:
        path = self.instance_dir / INSTANCE_RECORD
        if not self.instance_dir.is_dir():
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._record(state), indent=2) + "\n")
        os.replace(tmp, path)

    def _write_config(self, files: Mapping[str, str]) -> None:
        etc = self.etc_dir
        if etc.exists():
            shutil.rmtree(etc)
        etc.mkdir(parents=True)
        for sub in ("run", "log", "spool", "db"):
            (self.instance_dir / sub).mkdir(exist_ok=True)
        inside = self.in_chroot(self.instance_dir)
        directories = {
            "astetcdir": f"{inside}/etc",
            "astrundir": f"{inside}/run",
            "astlogdir": f"{inside}/log",
            "astspooldir": f"{inside}/spool",
            "astdbdir": f"{inside}/db",
        }
        rendered = dict(files)
        rendered["asterisk.conf"] = render_asterisk_conf(
            files.get("asterisk.conf", ""), directories
        )
        rendered["manager.conf"] = render_manager_conf(
            files.get("manager.conf", ""),
            port=self.port,
            username=self.username,
            secret=self.secret,
        )
        if "http.conf" in files and self.http_port:
            rendered["http.conf"] = render_http_conf(
                files["http.conf"], bindaddr=self.http_host, port=self.http_port
            )
        if "logger.conf" not in files:
            rendered["logger.conf"] = "[logfiles]\nfull => notice,warning,error,verbose\n"
        for name, text in rendered.items():
            (etc / name).write_text(text)

    def _launch(self) -> None:
        """Start the asterisk process (caller holds the chroot lock)."""
        if self.is_running():
            raise AsteriskStartError(f"Asterisk on port {self.port} is already running")
        with contextlib.suppress(FileNotFoundError):
            self.ctl_socket.unlink()
        argv = ["chroot", str(self.chroot), ASTERISK_BIN, "-f", "-n", "-C", self.asterisk_conf]
        with open(self.console_log_path, "ab") as console:
            console.write(f"\n# {datetime.now(UTC).isoformat()} $ {' '.join(argv)}\n".encode())
            console.flush()
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                close_fds=True,
                start_new_session=True,
            )
        self.pid = process.pid
        self._pid_start = _proc_start_time(process.pid)
        self._process = None if self.detached else process
        self._write_record(state="running")
        if not self.detached:
            _owned.add(self)

    def _startup_error(self, why: str) -> AsteriskStartError:
        return AsteriskStartError(f"Asterisk on port {self.port} {why}\n{self.log_tail()}")

    def _wait_ready(self) -> None:
        """Wait for ``core waitfullybooted`` and an AMI login; AsteriskStartError otherwise."""
        started = time.monotonic()
        deadline = started + self.boot_timeout
        self._wait_booted(deadline)
        while True:
            try:
                _ami_login_probe(self.host, self.port, self.username, self.secret, timeout=5)
                break
            except AsteriskStartError as exc:
                raise self._startup_error(str(exc)) from exc
            except OSError as exc:
                if not self.is_running() or time.monotonic() > deadline:
                    raise self._startup_error(
                        f"booted but AMI {self.host}:{self.port} is not reachable: {exc}"
                    ) from exc
                time.sleep(0.05)
        log.info(
            "Asterisk ready on AMI %s:%d in %.2f s",
            self.host,
            self.port,
            time.monotonic() - started,
        )

    def _wait_booted(self, deadline: float) -> None:
        while True:
            if not self.is_running():
                rc = self._process.returncode if self._process is not None else "?"
                raise self._startup_error(f"exited (status {rc}) during startup")
            if time.monotonic() > deadline:
                raise self._startup_error(f"did not boot within {self.boot_timeout:.0f} s")
            if self.ctl_socket.exists():
                with contextlib.suppress(AsteriskCliError):
                    remaining = max(1.0, deadline - time.monotonic())
                    if "fully booted" in self.cli("core waitfullybooted", timeout=remaining):
                        return
            time.sleep(0.05)

    def _terminate(self, timeout: float = 10.0) -> None:
        """Stop the process and reap it (no lock needed)."""
        if not self.is_running():
            if self._process is not None:
                self._process.wait()
            return
        with contextlib.suppress(AsteriskCliError):
            self.cli("core stop now", timeout=5)
        if not self._wait_exit(timeout):
            log.warning("Asterisk on port %d ignored 'core stop now'; sending SIGTERM", self.port)
            self._signal(signal.SIGTERM)
            if not self._wait_exit(5):
                self._signal(signal.SIGKILL)
                self._wait_exit(10)

    def _signal(self, signum: int) -> None:
        if self.is_running() and self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def _wait_exit(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while self.is_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def _instances_root(chroot: Path) -> Path:
    return chroot / str(INSTANCES_ROOT).lstrip("/")


def _load_instance(chroot: Path, directory: Path) -> tuple[AsteriskInstance, dict[str, Any]] | None:
    try:
        record = json.loads((directory / INSTANCE_RECORD).read_text())
    except (OSError, ValueError):
        return None
    try:
        instance = AsteriskInstance(
            host=str(record["host"]),
            port=int(record["port"]),
            username=str(record["username"]),
            secret=str(record["secret"]),
            chroot=chroot,
            log_path=directory / "log" / "full",
            instance_dir=directory,
            console_log_path=directory / "console.log",
            detached=record.get("owner_pid") is None,
            boot_timeout=float(record.get("boot_timeout", 60.0)),
            http_host=str(record.get("http_host", HOST)),
            http_port=int(record.get("http_port", 0)),
            pid=record.get("pid"),
            _pid_start=record.get("pid_start"),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return instance, record


def _record_is_live(instance: AsteriskInstance, record: Mapping[str, Any]) -> bool:
    """Running, or being (re)started by an owner that is still alive."""
    if instance.is_running():
        return True
    owner = record.get("owner_pid")
    return (
        record.get("state") == "running"
        and owner is not None
        and _pid_is(owner, record.get("owner_start"))
    )


def list_instances(
    chroot: Path | None = None, *, alive_only: bool = False
) -> list[AsteriskInstance]:
    """Sandbox instances of a chroot (from their records; ``_process`` is None for them)."""
    chroot_path = (chroot or chroot_dir()).absolute()
    root = _instances_root(chroot_path)
    found = []
    for directory in sorted(root.glob("ami-*")) if root.is_dir() else []:
        loaded = _load_instance(chroot_path, directory)
        if loaded is None:
            continue
        instance, record = loaded
        if not alive_only or _record_is_live(instance, record):
            found.append(instance)
    return found


def _reap_stale_instances(chroot: Path) -> None:
    """Clean up after dead owners (caller holds the lock).

    An instance whose owning process died is killed if still running and its
    directory deleted.  A stopped instance's directory (its logs) is kept
    while its owner lives; a stopped detached instance's is deleted.
    """
    root = _instances_root(chroot)
    if not root.is_dir():
        return
    for directory in root.iterdir():
        loaded = _load_instance(chroot, directory)
        if loaded is None:
            _safe_rmtree(directory)
            continue
        instance, record = loaded
        owner = record.get("owner_pid")
        if owner is None:  # detached (CLI): lives until `stop`
            if instance.is_running():
                continue
        elif _pid_is(owner, record.get("owner_start")):
            continue
        elif instance.is_running():
            log.warning(
                "killing orphaned sandbox Asterisk pid %s (owner %s died)", instance.pid, owner
            )
            instance._terminate(timeout=5)
        _safe_rmtree(directory)


def _ensure_mounts(chroot: Path) -> None:
    proc, dev = chroot / "proc", chroot / "dev"
    for target, argv in (
        (proc, ["mount", "-t", "proc", "proc", str(proc)]),
        (dev, ["mount", "--bind", "/dev", str(dev)]),
    ):
        if _is_mount_point(target):
            continue
        target.mkdir(exist_ok=True)
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AsteriskUnavailable(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def _release_mounts_if_idle(chroot: Path) -> None:
    """Unmount proc and dev when no instance uses the chroot any more (caller holds the lock)."""
    if list_instances(chroot, alive_only=True):
        return
    for target in (chroot / "dev", chroot / "proc"):
        if _is_mount_point(target):
            _umount(os.path.realpath(target))


def _prepare_base_dirs(chroot: Path) -> None:
    # Not var/run: in the chroot it is an absolute symlink to /run, i.e. the host's /run.
    for sub in ("run/asterisk", "var/lib/asterisk", "var/log/asterisk", "var/spool/asterisk"):
        (chroot / sub).mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (chroot / "var/lib/asterisk/astdb.sqlite3").unlink()
    _instances_root(chroot).mkdir(parents=True, exist_ok=True)


def _collect_config(config_dir: Path, extra_config: Mapping[str, str] | None) -> dict[str, str]:
    if not config_dir.is_dir():
        raise AsteriskStartError(f"no Asterisk config dir {config_dir}")
    files = {path.name: path.read_text() for path in sorted(config_dir.glob("*.conf"))}
    if not files:
        raise AsteriskStartError(f"no *.conf files in {config_dir}")
    for name, text in (extra_config or {}).items():
        if "/" in name or not name.endswith(".conf"):
            raise ValueError(f"extra_config names must be plain *.conf file names, not {name!r}")
        files[name] = text
    return files


def start_asterisk(
    *,
    chroot: Path | None = None,
    config_dir: Path | None = None,
    extra_config: Mapping[str, str] | None = None,
    port: int | None = None,
    username: str = "dialer",
    secret: str | None = None,
    boot_timeout: float = 60.0,
    detached: bool = False,
    http_host: str = HOST,
) -> AsteriskInstance:
    """Start a sandboxed Asterisk and wait until it is fully booted and AMI accepts a login.

    ``config_dir`` defaults to the project's ``config/asterisk``; ``extra_config``
    adds or replaces files by name (e.g. ``{"pjsip.conf": ...}``).  ``port``
    defaults to a free loopback port; ``secret`` to a random one.  A
    ``detached`` instance is not tied to this process (used by the CLI).  Asterisk's
    HTTP server (the browser phone's WebSocket, ``ws://http_host:http_port/ws``) gets a
    free port of its own on ``http_host``.
    Raises AsteriskUnavailable if the machine cannot run it, AsteriskStartError
    if Asterisk does not come up (the message carries the log tail).
    """
    reason = asterisk_unavailable_reason()
    if reason is not None:
        raise AsteriskUnavailable(reason)
    files = _collect_config(config_dir or default_config_dir(), extra_config)
    root = ensure_chroot(chroot)
    secret = secret or secrets.token_hex(12)
    with _locked(root):
        _reap_stale_instances(root)
        _ensure_mounts(root)
        _prepare_base_dirs(root)
        for _attempt in range(50):
            chosen = port or _free_port()
            directory = _instances_root(root) / f"ami-{chosen}"
            try:
                directory.mkdir()
                break
            except FileExistsError:
                if port:
                    raise AsteriskStartError(
                        f"a sandbox instance already uses port {port}"
                    ) from None
        else:
            raise AsteriskStartError("could not find a free port for AMI")
        instance = AsteriskInstance(
            host=HOST,
            port=chosen,
            username=username,
            secret=secret,
            chroot=root,
            log_path=directory / "log" / "full",
            instance_dir=directory,
            console_log_path=directory / "console.log",
            detached=detached,
            boot_timeout=boot_timeout,
            http_host=http_host,
            http_port=_free_port(http_host),
        )
        try:
            instance._write_config(files)
            instance._write_record(state="running")
            instance._launch()
        except BaseException:
            instance._write_record(state="stopped")
            _release_mounts_if_idle(root)
            raise
    try:
        instance._wait_ready()
    except BaseException:
        instance.stop()
        raise
    return instance


@atexit.register
def _stop_owned_instances() -> None:
    for instance in list(_owned):
        with contextlib.suppress(Exception):
            instance.stop()


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def _describe(instance: AsteriskInstance) -> str:
    state = "running" if instance.is_running() else "stopped"
    owner = "detached" if instance.detached else "owned by a test run"
    return (
        f"ami={instance.host}:{instance.port} user={instance.username} secret={instance.secret} "
        f"pid={instance.pid} {state} ({owner})\n"
        f"  log: {instance.log_path}\n"
        f"  cli: {shlex.join(instance.cli_argv('core show channels'))}"
    )


def _cmd_build(args: argparse.Namespace) -> None:
    started = time.monotonic()
    chroot = ensure_chroot()
    print(f"{chroot} ready ({time.monotonic() - started:.1f} s); stamp: {_read_stamp(chroot)}")


def _cmd_start(args: argparse.Namespace) -> None:
    instance = start_asterisk(
        port=args.port, username=args.username, secret=args.secret, detached=True
    )
    if args.json:
        record = instance._record("running")
        record["log_path"] = str(instance.log_path)
        record["cli"] = instance.cli_argv("")[:-1]
        print(json.dumps(record, indent=2))
    else:
        print(_describe(instance))


def _cmd_stop(args: argparse.Namespace) -> None:
    stopped = 0
    for instance in list_instances(alive_only=True):
        wanted = (
            instance.port == args.port if args.port is not None else args.all or instance.detached
        )
        if wanted:
            instance.stop()
            stopped += 1
            print(f"stopped Asterisk on port {instance.port}")
    if not stopped:
        print("no matching running instance")
    with _locked(chroot_dir()):
        _release_mounts_if_idle(chroot_dir())


def _cmd_status(args: argparse.Namespace) -> None:
    chroot = chroot_dir()
    print(f"chroot: {chroot} ({'ready' if _chroot_ready(chroot) else 'not built'})")
    print(f"stamp: {_read_stamp(chroot)}")
    print(f"mounts: {_mounts_under(chroot) or 'none'}")
    reason = asterisk_unavailable_reason()
    print(f"unavailable: {reason}" if reason else "available: yes")
    instances = list_instances(chroot)
    for instance in instances:
        print(_describe(instance))
    if not instances:
        print("no instances")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="PYTHONPATH=tests python -m support.asterisk",
        description="Build/start/stop the real-Asterisk test sandbox (needs root).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the cached chroot (debootstrap) if needed").set_defaults(
        func=_cmd_build
    )
    start = sub.add_parser("start", help="start a detached instance and print its AMI details")
    start.add_argument("--port", type=int, default=None)
    start.add_argument("--username", default="dialer")
    start.add_argument("--secret", default=None)
    start.add_argument("--json", action="store_true", help="print the details as JSON")
    start.set_defaults(func=_cmd_start)
    stop = sub.add_parser("stop", help="stop detached instances (or --port N, or --all)")
    stop.add_argument("--port", type=int, default=None)
    stop.add_argument("--all", action="store_true", help="also instances owned by test runs")
    stop.set_defaults(func=_cmd_stop)
    sub.add_parser("status", help="show the chroot and its instances").set_defaults(
        func=_cmd_status
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        args.func(args)
    except AsteriskSandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
