"""The AMI adapter's connects: a dead relay fails each try at once, and the log stays JSON."""

import asyncio
import json
import subprocess
import sys
import time

import pytest
from structlog.testing import capture_logs

from dialerd.config import AmiSettings
from dialerd.pbx.ami import AmiPbx

RUN = """
import asyncio, sys
from dialerd.config import AmiSettings
from dialerd.daemon.logs import configure_logging
from dialerd.pbx.ami import AmiPbx

async def main(port):
    settings = AmiSettings(
        port=port, login_timeout_s=5, reconnect_initial_s=0.05, reconnect_max_s=0.2
    )
    async with AmiPbx(settings, "secret"):
        await asyncio.sleep(1.5)

configure_logging("info", "json")
asyncio.run(main(int(sys.argv[1])))
"""


async def relay(mode: str) -> asyncio.Server:
    """A TCP relay whose upstream is down: it accepts, maybe says the banner, then closes."""

    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if mode == "banner":
            writer.write(b"Asterisk Call Manager/11.0.0\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize("mode", ["close", "banner"])
async def test_a_connection_closed_before_the_login_reply_fails_at_once(mode: str):
    server = await relay(mode)
    port = server.sockets[0].getsockname()[1]
    settings = AmiSettings(port=port, login_timeout_s=5, reconnect_initial_s=0.05)
    try:
        started = time.monotonic()
        async with AmiPbx(settings, "secret") as pbx:
            await asyncio.wait_for(pbx.attempted.wait(), 2)
            took = time.monotonic() - started
            assert not pbx.connected.is_set()
    finally:
        server.close()
    assert took < 1.0  # not the 5 s login timeout


@pytest.mark.parametrize("mode", ["close", "banner"])
async def test_every_log_line_stays_json_while_logins_fail(mode: str):
    server = await relay(mode)
    port = server.sockets[0].getsockname()[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUN, str(port), stderr=subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        server.close()
    lines = err.decode().splitlines()
    failed = [json.loads(line) for line in lines if '"ami_connect_failed"' in line]
    assert len(failed) >= 4  # tried again and again, backing off, within 1.5 s
    for line in lines:
        json.loads(line)  # no traceback, no plain-text line from panoramisk or asyncio


def test_standard_library_records_are_rendered_as_json(capsys):
    """What panoramisk and asyncio log (through ``logging``) comes out as JSON lines."""
    import logging

    from dialerd.daemon.logs import configure_logging

    configure_logging("info", "json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("asyncio").exception("Exception in callback")
    logging.getLogger("panoramisk").warning("Not able to reconnect")
    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["event"] for e in entries] == ["Exception in callback", "Not able to reconnect"]
    assert entries[0]["logger"] == "asyncio" and "RuntimeError: boom" in entries[0]["exception"]
    assert entries[1]["level"] == "warning"


async def test_a_failed_login_names_the_pbx_only_when_there_are_several():
    server = await relay("close")
    port = server.sockets[0].getsockname()[1]
    try:
        with capture_logs() as logs:
            for named in (False, True):
                settings = AmiSettings(name="east", port=port, reconnect_initial_s=0.05)
                async with AmiPbx(settings, "secret", named=named) as pbx:
                    await asyncio.wait_for(pbx.attempted.wait(), 2)
    finally:
        server.close()
    failed = [line for line in logs if line["event"] == "ami_connect_failed"]
    alone, one_of_several = failed[0], failed[-1]
    assert "pbx" not in alone and "host" not in alone  # one PBX: the line as it always was
    assert (one_of_several["pbx"], one_of_several["host"], one_of_several["port"]) == (
        "east",
        "127.0.0.1",
        port,
    )
