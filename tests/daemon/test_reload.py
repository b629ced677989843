"""SIGHUP (``systemctl reload dialerd``): a bad file changes nothing, a good one applies live."""

import signal

from support.daemon import Daemon, Peak, answering, wait_for

PHONES = [f"+7916123{7000 + n}" for n in range(6)]


def finished(daemon: Daemon) -> int:
    return daemon.rows("SELECT COUNT(*) FROM attempts WHERE status = 'done'")[0][0]


async def reload(daemon: Daemon) -> dict[str, str]:
    daemon.signal(signal.SIGHUP)
    await daemon.notify.expect("RELOADING=1")
    return await daemon.notify.expect("READY=1")


async def test_bad_file_keeps_the_running_config_and_a_good_one_applies(daemon: Daemon):
    daemon.sim.rule = answering(0.4)
    daemon.write_config(max_concurrent_calls=1)
    await daemon.start()
    await daemon.notify.expect("READY=1")

    # Valid and invalid values in one file: none of it may apply.
    daemon.write_config(max_concurrent_calls=3, originate_timeout_s="soon")
    bad_line = daemon.config.read_text().splitlines().index("  originate_timeout_s: soon") + 1
    ready = await reload(daemon)
    (rejected,) = daemon.events("reload_rejected")
    (problem,) = rejected["problems"]
    assert problem.startswith(f"{daemon.config}:{bad_line}: dialing.originate_timeout_s: ")
    assert "must be a number" in problem  # in plain words (issue 15)
    assert "last reload rejected" in ready["STATUS"]

    async with Peak(daemon.sim) as peak:
        await daemon.add_leads(PHONES[:3])
        await wait_for(lambda: finished(daemon) == 3, 10, "3 calls, one at a time")
    assert peak.value == 1  # still dialing, with the old limit

    # A good file: the new limit applies; the AMI port needs a restart, so it is kept.
    daemon.write_config(max_concurrent_calls=3, port=1)
    ready = await reload(daemon)
    assert ready["STATUS"].startswith("dialing: 0/3 calls in flight; AMI logged in")
    (reloaded,) = daemon.events("config_reloaded")
    assert reloaded["changed"] == ["dialing.max_concurrent_calls"]
    (restart,) = daemon.events("reload_needs_restart")
    assert restart["keys"] == ["ami.port"]

    async with Peak(daemon.sim) as peak:
        await daemon.add_leads(PHONES[3:])
        await wait_for(lambda: finished(daemon) == 6, 10, "3 more calls, side by side")
    assert peak.value == 3
    assert len(daemon.sim.originates) == 6

    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()
    outcomes = daemon.rows("SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome")
    assert outcomes == [("answered", 6)]
