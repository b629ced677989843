"""SIGTERM (``systemctl stop``): stop dialing, let the calls end, record them, exit 0."""

import signal

import pytest
from support.daemon import Daemon, answering, wait_for

PHONES = [f"+7916123{8000 + n}" for n in range(3)]
LATE = "+79161238100"


def dialing(daemon: Daemon) -> int:
    return daemon.rows("SELECT COUNT(*) FROM attempts WHERE status = 'dialing'")[0][0]


async def start_with_calls_in_flight(daemon: Daemon, talk_s: float, extra: str = "") -> None:
    daemon.sim.rule = answering(talk_s)
    daemon.write_config(extra=extra)
    await daemon.start()
    await daemon.notify.expect("READY=1")
    await daemon.add_leads(PHONES)
    await wait_for(lambda: len(daemon.sim.active_channels) == 3, 10, "3 calls in flight")


async def test_sigterm_lets_calls_in_flight_finish_and_records_them(daemon: Daemon):
    await start_with_calls_in_flight(daemon, talk_s=1.0)

    daemon.signal(signal.SIGTERM)
    stopping = await daemon.notify.expect("STOPPING=1")
    assert stopping["STATUS"].startswith("stopping: 3/10 calls in flight")
    await daemon.add_leads([LATE])  # arrives during the drain: kept for the next start
    assert await daemon.exit_code() == 0, daemon.tail()

    assert daemon.leftovers() == []  # the store was closed cleanly, the socket removed
    assert len(daemon.sim.originates) == 3
    outcomes = dict(daemon.rows("SELECT phone, outcome FROM attempts"))
    assert outcomes == dict.fromkeys(PHONES, "answered")
    assert daemon.rows(f"SELECT state, attempts FROM leads WHERE phone = '{LATE}'") == [
        ("waiting", 0)
    ]
    (summary,) = daemon.events("daemon_stopped")
    expected = {
        "how": "drained",
        "attempts_started": 3,
        "attempts_finished": 3,
        "outcomes": {"answered": 3},
        "left_dialing": 0,
    }
    assert {key: summary[key] for key in expected} == expected
    assert daemon.events()[-1]["event"] == "daemon_stopped"  # the last line


@pytest.mark.parametrize("how", ["stopped_at_once", "drain_timeout"])
async def test_second_sigterm_or_timeout_ends_at_once_and_the_next_start_reconciles(
    daemon: Daemon, how: str
):
    drain_timeout_s = 0.2 if how == "drain_timeout" else 60
    await start_with_calls_in_flight(
        daemon, talk_s=3.0, extra=f"daemon:\n  drain_timeout_s: {drain_timeout_s}\n"
    )
    daemon.signal(signal.SIGTERM)
    await daemon.notify.expect("STOPPING=1")
    if how == "stopped_at_once":
        daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code(within_s=5) == 0, daemon.tail()

    assert dialing(daemon) == 3  # left for the next start, never re-dialed
    assert daemon.leftovers() == []
    (summary,) = daemon.events("daemon_stopped")
    assert (summary["how"], summary["left_dialing"]) == (how, 3)
    assert not daemon.events("engine_crashed")  # a stop, not a crash

    await daemon.start()  # adopts the calls Asterisk still carries and follows them to the end
    ready = await daemon.notify.expect("READY=1")
    assert ready["STATUS"].startswith("dialing: 3/10 calls in flight")
    await wait_for(lambda: dialing(daemon) == 0, 10, "the adopted calls to be recorded")
    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()
    assert len(daemon.sim.originates) == 3
    outcomes = dict(daemon.rows("SELECT phone, outcome FROM attempts"))
    assert outcomes == dict.fromkeys(PHONES, "answered")
