"""One daemon per store (issue 11): a second ``dialerd run`` is refused and breaks nothing.

Both run as real processes on the AMI simulator. The refusal names the running daemon; the
first keeps dialing and its wake socket keeps working (a poked lead is dialed at once, not
at the 30 s recheck); a daemon killed with SIGKILL leaves nothing that blocks the next one.
"""

import json
import re
import signal
import socket
from pathlib import Path

from support.daemon import Daemon, NotifyListener, answering, wait_for

from dialerd.cli.main import EXIT_TEMPFAIL
from dialerd.pbx.sim.server import AmiSimulator

PHONE = "+79161238200"
PROMPTLY_S = 5.0  # far below the engine's 30 s safety recheck: only a poke gets there


def lock_file(daemon: Daemon) -> Path:
    return daemon.db.with_name(daemon.db.name + ".lock")


async def test_a_second_daemon_is_refused_and_the_first_keeps_dialing(
    daemon: Daemon, sim: AmiSimulator, tmp_path: Path
):
    sim.rule = answering(0.2)
    daemon.write_config()
    await daemon.start()
    await daemon.notify.expect("READY=1")
    assert daemon.proc is not None

    (tmp_path / "second").mkdir()
    notify = NotifyListener()
    second = Daemon(tmp_path / "second", sim, notify, store=daemon.db)
    second.write_config()
    try:
        await second.start()
        code = await second.exit_code()
    finally:
        await second.kill()
        notify.close()

    assert code == EXIT_TEMPFAIL, second.tail()
    refusal = rf"dialerd: another dialerd \(pid {daemon.proc.pid}, started [^)]+\) is running on "
    assert re.fullmatch(refusal + re.escape(str(daemon.db)), second.log.read_text().strip())
    assert sim.originates == []  # the second one dialed nothing

    await daemon.add_leads([PHONE])  # commit, then poke the first daemon's wake socket
    await wait_for(lambda: len(sim.originates) == 1, PROMPTLY_S, "the new lead to be dialed")

    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()
    assert daemon.leftovers() == []


async def test_a_daemon_killed_with_sigkill_does_not_block_the_next_one(
    daemon: Daemon, sim: AmiSimulator
):
    sim.rule = answering(0.2)
    daemon.write_config()
    await daemon.start()
    await daemon.notify.expect("READY=1")
    assert daemon.proc is not None
    killed = daemon.proc.pid
    assert json.loads(lock_file(daemon).read_text())["pid"] == killed

    await daemon.kill()  # SIGKILL: the lock file and the wake socket stay behind
    await daemon.start()
    await daemon.notify.expect("READY=1")
    assert daemon.proc.pid != killed
    assert json.loads(lock_file(daemon).read_text())["pid"] == daemon.proc.pid

    await daemon.add_leads([PHONE])  # the new daemon's wake socket replaced the stale one
    await wait_for(lambda: len(sim.originates) == 1, PROMPTLY_S, "the new lead to be dialed")
    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()


async def test_an_api_port_in_use_is_a_temporary_failure(daemon: Daemon):
    """Another process on the port: exit 75, which systemd restarts (2 would stop it for good)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon.write_config(api={"host": "127.0.0.1", "port": port, "require_token": "false"})
        await daemon.start()
        code = await daemon.exit_code()

    assert code == EXIT_TEMPFAIL, daemon.tail()
    output = daemon.log.read_text()
    assert f"dialerd: api: cannot listen on 127.0.0.1:{port}: Address already in use\n" in output
    assert "Traceback" not in output and "daemon_crashed" not in output
    assert daemon.leftovers() == []
