"""What systemd (Type=notify, WatchdogSec=) hears from ``dialerd run``."""

import signal

from support.daemon import Daemon


async def test_ready_watchdog_reload_and_stopping_reach_the_service_manager(daemon: Daemon):
    daemon.write_config()
    await daemon.start(watchdog_usec=1_000_000)  # WatchdogSec=1s: a ping every 0.5 s

    ready = await daemon.notify.expect("READY=1")
    assert "AMI logged in" in ready["STATUS"]
    assert daemon.events("ami_connected")  # READY came after the login, not before
    for _ in range(3):
        await daemon.notify.expect("WATCHDOG=1", within_s=3)

    daemon.signal(signal.SIGHUP)
    reloading = await daemon.notify.expect("RELOADING=1")
    assert int(reloading["MONOTONIC_USEC"]) > 0
    await daemon.notify.expect("READY=1")
    assert daemon.events("config_reloaded")

    daemon.signal(signal.SIGTERM)
    await daemon.notify.expect("STOPPING=1")
    assert await daemon.exit_code() == 0, daemon.tail()
    assert daemon.notify.count("READY=1") == 2  # start and reload, nothing after STOPPING


async def test_ready_even_when_asterisk_refuses_the_login(daemon: Daemon):
    """A PBX that is down must not fail the start: READY=1 says so and the daemon retries."""
    daemon.write_config()
    await daemon.start(secret="wrong-secret")

    ready = await daemon.notify.expect("READY=1")
    assert "AMI down, retrying" in ready["STATUS"]
    assert daemon.events("ami_connect_failed")

    daemon.signal(signal.SIGTERM)
    await daemon.notify.expect("STOPPING=1")
    assert await daemon.exit_code() == 0, daemon.tail()
