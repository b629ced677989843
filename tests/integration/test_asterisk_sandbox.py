"""Tests of the real-Asterisk sandbox itself (``tests/support/asterisk.py``).

The tests marked ``asterisk`` need root (see tests/integration/conftest.py);
the config-rendering tests at the end run anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from panoramisk import Manager
from support.asterisk import (
    AsteriskInstance,
    AsteriskStartError,
    default_config_dir,
    list_instances,
    parse_apt_sources,
    render_asterisk_conf,
    render_manager_conf,
    start_asterisk,
)

asterisk_mark = pytest.mark.asterisk


@contextlib.asynccontextmanager
async def ami(instance: AsteriskInstance) -> AsyncIterator[Manager]:
    """A logged-in panoramisk Manager for ``instance``; closed on exit."""
    manager = Manager(
        host=instance.host,
        port=instance.port,
        username=instance.username,
        secret=instance.secret,
        ping_delay=600,
        ping_interval=600,
        reconnect_timeout=600,
    )
    await asyncio.wait_for(manager.connect(), 5)
    try:
        login = manager.authenticated_future
        assert login is not None
        response = await asyncio.wait_for(login, 5)
        assert response.success, response
        yield manager
    finally:
        manager.close()


async def originate(
    manager: Manager, number: str, *, timeout_ms: int = 2000, lead: str | None = None
) -> tuple[Any, Any]:
    """Async Originate of Local/<number>@customers -> operators,101; (ack, OriginateResponse)."""
    future = manager.send_action(
        {
            "Action": "Originate",
            "Channel": f"Local/{number}@customers",
            "Context": "operators",
            "Exten": "101",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(timeout_ms),
            "ChannelId": f"sandbox-{uuid.uuid4().hex[:16]}",
            "Variable": f"DIALER_LEAD={lead or 'L' + number}",
        }
    )
    # panoramisk: everything carrying our ActionID goes to this future, not to event callbacks
    result = await asyncio.wait_for(future, timeout_ms / 1000 + 10)
    assert isinstance(result, list) and len(result) == 2, result
    ack, response = result
    return ack, response


def active_channels(instance: AsteriskInstance) -> int:
    output = instance.cli("core show channels count")
    match = re.search(r"^(\d+) active channels?$", output, re.MULTILINE)
    assert match, output
    return int(match.group(1))


# ---------------------------------------------------------------------------
# against a real Asterisk
# ---------------------------------------------------------------------------


@asterisk_mark
def test_cli_and_config_set_loaded(asterisk: AsteriskInstance) -> None:
    assert "Asterisk 22" in asterisk.cli("core show version")
    modules = asterisk.cli("module show")
    for module in ("chan_pjsip.so", "res_pjsip.so", "app_queue.so", "res_manager_devicestate.so"):
        line = next((x for x in modules.splitlines() if x.startswith(module)), "")
        assert "Running" in line, f"{module} not running:\n{modules}"
    assert "res_pjsip_exten_state" not in modules
    queue = asterisk.cli("queue show sales")
    assert all(f"Local/10{n}@operators" in queue for n in range(1, 6)), queue
    assert asterisk.etc_dir.joinpath("extensions_sandbox.conf").is_file()


@asterisk_mark
@pytest.mark.parametrize(
    ("number", "reason", "response"),
    [
        pytest.param("79161231001", "4", "Success", id="answered"),
        pytest.param("79161232001", "5", "Failure", id="busy"),
        pytest.param("79161234001", "8", "Failure", id="congestion"),
        pytest.param("79161239001", "0", "Failure", id="unallocated"),
        pytest.param("79161233001", "3", "Failure", id="no-answer"),
        pytest.param("79161236001", "4", "Success", id="other-digit-answers"),
    ],
)
async def test_originate_outcomes(
    asterisk: AsteriskInstance, number: str, reason: str, response: str
) -> None:
    async with ami(asterisk) as manager:
        started = time.monotonic()
        ack, result = await originate(manager, number, timeout_ms=2000)
        elapsed = time.monotonic() - started
    assert ack.response == "Success", ack
    assert result.event == "OriginateResponse", result
    assert (result.response, result.reason) == (response, reason), result
    if reason == "3":
        assert 1.5 < elapsed < 6, elapsed  # the 2 s Originate Timeout expired
    else:
        assert elapsed < 2, elapsed


@asterisk_mark
async def test_dialed_number_and_lead_are_logged(asterisk: AsteriskInstance) -> None:
    lead = f"L-{uuid.uuid4().hex[:8]}"
    async with ami(asterisk) as manager:
        _, result = await originate(manager, "79161231002", lead=lead)
    assert result.reason == "4"
    expected = f"customer 79161231002: answer -- lead={lead}"
    deadline = time.monotonic() + 3
    while expected not in asterisk.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{expected!r} not in {asterisk.log_path}"
        await asyncio.sleep(0.05)


@asterisk_mark
async def test_second_instance_runs_alongside_and_restarts_mid_call(
    asterisk: AsteriskInstance,
) -> None:
    other = await asyncio.to_thread(start_asterisk)
    try:
        assert other.port != asterisk.port
        assert other.instance_dir != asterisk.instance_dir
        port, pid = other.port, other.pid
        async with ami(other) as manager:
            _, result = await originate(manager, "79161235001")  # answers, 30 s call
            assert result.reason == "4"
        assert active_channels(other) == 2  # the Local channel's ;1 and ;2 halves

        await asyncio.to_thread(other.restart)

        assert (other.port, other.is_running()) == (port, True)
        assert other.pid != pid
        assert active_channels(other) == 0
        async with ami(other) as manager:  # same port, same credentials
            pong = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)
            assert pong.success, pong
        # the session instance was not disturbed
        assert "fully booted" in asterisk.cli("core waitfullybooted")
    finally:
        await asyncio.to_thread(other.stop)
    assert not other.is_running()
    assert asterisk.is_running()


@asterisk_mark
def test_failed_start_raises_with_the_log_and_leaves_no_process(
    asterisk: AsteriskInstance,
) -> None:
    broken = {"modules.conf": "[modules]\nautoload = no\nrequire => res_no_such_module.so\n"}
    with pytest.raises(AsteriskStartError) as failure:
        start_asterisk(extra_config=broken, boot_timeout=20)
    message = str(failure.value)
    assert "Failed to load module res_no_such_module.so" in message  # the log tail
    match = re.search(r"Asterisk on port (\d+) ", message)
    assert match, message
    port = int(match.group(1))
    assert [i.is_running() for i in list_instances(asterisk.chroot) if i.port == port] == [False]
    assert asterisk.is_running()


# ---------------------------------------------------------------------------
# config rendering (no Asterisk needed)
# ---------------------------------------------------------------------------


def test_render_manager_conf_rewrites_port_user_and_secret() -> None:
    original = (default_config_dir() / "manager.conf").read_text()
    rendered = render_manager_conf(original, port=40123, username="bench", secret="s3cret")
    lines = [line.split(";")[0].strip() for line in rendered.splitlines()]
    assert "port = 40123" in lines
    assert "bindaddr = 127.0.0.1" in lines
    assert "[bench]" in lines and "[dialer]" not in lines
    assert "secret = s3cret" in lines
    assert "read = all" in lines and "write = all" in lines  # permissions kept as shipped
    dialer, observer = rendered.split("[bench]")[1].split("[observer]")
    assert "eventfilter(name(Hangup)) =" in dialer  # the dialer user's filter kept as shipped
    assert "eventfilter" not in observer and "read = all" in observer  # observers see all
    assert "secret = s3cret" in observer
    with pytest.raises(ValueError):
        render_manager_conf(original, port=1, username="bad name", secret="x")


def test_render_asterisk_conf_replaces_directories() -> None:
    original = (default_config_dir() / "asterisk.conf").read_text()
    rendered = render_asterisk_conf(
        original, {"astetcdir": "/srv/x/etc", "astrundir": "/srv/x/run"}
    )
    assert re.findall(r"^\[directories\]", rendered, re.MULTILINE) == ["[directories]"]
    assert "astetcdir => /srv/x/etc" in rendered
    assert "astetcdir => /etc/asterisk" not in rendered
    assert "verbose = 3" in rendered


def test_parse_apt_sources_finds_the_debian_mirror() -> None:
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
    )
    assert parse_apt_sources([deb822]) == ["http://mirror.example/debian"]
    one_line = (
        "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://ftp.de.debian.org/debian/ bookworm main\n"
        "deb http://security.debian.org/debian-security bookworm-security main\n"
    )
    assert parse_apt_sources((), [one_line]) == ["http://ftp.de.debian.org/debian"]
    ubuntu = "deb http://archive.ubuntu.com/ubuntu jammy main\n"
    assert parse_apt_sources((), [ubuntu]) == []
