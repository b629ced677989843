"""A network of the test's own for WebRTC: a network namespace with a veth pair inside it.

ICE ignores loopback (Asterisk offers no loopback candidate, Chromium gathers none), so a
browser phone cannot answer a call on ``lo`` alone; and tests never use the host's own
interface addresses. So a test makes a namespace (``ip netns add``, a unique name per
run), brings its ``lo`` up and puts both ends of a veth pair in it, with the private
addresses ``10.99.0.1/24`` and ``10.99.0.2/24`` (DESIGN.md §3: that works with no special
flags). Nothing in the namespace has a route out: no packet of the test can reach the
host's network or any other address.

How the test gets inside: :meth:`NetworkNamespace.entered` moves the *calling thread*
into the namespace (``setns(2)`` on ``/run/netns/NAME``; the network namespace is a
per-thread attribute) and back out at the end. Sockets that thread opens, threads it
starts and processes it spawns are all in the namespace: the sandbox Asterisk (AMI on
the namespace's own 127.0.0.1, its WebSocket on 10.99.0.1), the daemon under test with
its console, and Chromium launched by Playwright. So the whole scenario talks over the
namespace's loopback and veth, with no bridge, forwarder or wrapper script, and the test
still drives the browser and reads the store directly. Sockets opened before entering
stay where they were: enter before starting anything that should be inside.

Under ``CI=true`` a machine that cannot make a namespace fails the test (like the
Asterisk sandbox); elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNET = 0x40000000
NAME_PREFIX = "dialerd-t"  # dialerd-t<pid of the test run>-<random>
PBX_ADDRESS = "10.99.0.1"  # Asterisk's HTTP/WebSocket server and its RTP
BROWSER_ADDRESS = "10.99.0.2"  # the other end of the pair: a second, distinct host address
PREFIX = 24
_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceUnavailable(RuntimeError):
    """This machine cannot make a network namespace (not root, no ``ip``, no permission)."""


def unavailable_reason() -> str | None:
    """Why no namespace can be made here, or None (cheap checks; creation may still fail)."""
    if not os.path.exists("/proc/thread-self/ns/net"):
        return "no network namespaces (/proc/thread-self/ns/net is missing)"
    if os.geteuid() != 0:
        return "not root (a network namespace needs CAP_SYS_ADMIN)"
    if shutil.which("ip") is None:
        return "ip is not installed (Debian package iproute2)"
    return None


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)  # Python 3.12+
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _remove_stale() -> None:
    """Namespaces of test runs that were killed (no ``finally`` ran): their run is gone and
    no process is left inside. Others' namespaces are never touched."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in (line.split()[0] for line in listed.splitlines() if line.strip()):
        owner = name.removeprefix(NAME_PREFIX).split("-")[0]
        if not name.startswith(NAME_PREFIX) or not owner.isdigit():
            continue
        if Path(f"/proc/{owner}").exists():
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        if pids.returncode == 0 and not pids.stdout.strip():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {result.stderr.strip()}")


def net_namespace_of(pid: int | str) -> int:
    """The inode of a process's (or ``thread-self``'s) network namespace, to compare."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


@dataclass
class NetworkNamespace:
    """``with NetworkNamespace.create() as ns, ns.entered(): ...`` (see the module's text)."""

    name: str

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name

    @property
    def inode(self) -> int:
        return os.stat(self.path).st_ino

    @classmethod
    @contextlib.contextmanager
    def create(cls) -> Iterator[NetworkNamespace]:
        """A fresh namespace with ``lo`` and the veth pair up; deleted at the end, always."""
        reason = unavailable_reason()
        if reason is not None:
            raise NamespaceUnavailable(reason)
        _remove_stale()
        ns = cls(f"{NAME_PREFIX}{os.getpid()}-{secrets.token_hex(3)}")
        _ip("netns", "add", ns.name)
        try:
            _ip("-n", ns.name, "link", "set", "lo", "up")
            _ip("-n", ns.name, "link", "add", "pbx0", "type", "veth", "peer", "name", "desk0")
            for device, address in (("pbx0", PBX_ADDRESS), ("desk0", BROWSER_ADDRESS)):
                _ip("-n", ns.name, "addr", "add", f"{address}/{PREFIX}", "dev", device)
                _ip("-n", ns.name, "link", "set", device, "up")
            yield ns
        finally:
            # Deleting the name frees the namespace once no process is left in it; a
            # process still inside (a leaked browser) would keep it, but reach nothing.
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """The calling thread inside the namespace until the block ends (then back)."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(self.path, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def holds(self, pid: int | str) -> bool:
        """Is this process (or ``"thread-self"``) inside the namespace?"""
        try:
            return net_namespace_of(pid) == self.inode
        except FileNotFoundError:
            return False

    def addresses(self) -> str:
        """``ip -brief address`` inside the namespace (for error messages)."""
        return subprocess.run(
            ["ip", "-n", self.name, "-brief", "address"], capture_output=True, text=True
        ).stdout


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def report(line: str) -> None:
    """A measured figure, printed (``pytest -s`` shows it)."""
    print(line)
