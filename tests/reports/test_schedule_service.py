"""The report scheduler in the composition root, and what a reload does to schedules."""

import asyncio
import socket

from support.scenarios import pbx_config
from support.webhook import WebhookServer

from dialerd.config import load_config
from dialerd.daemon.lifecycle import changed_keys, kept_for_restart
from dialerd.daemon.service import assembled
from dialerd.store import report_runs
from dialerd.store.report_runs import RunState


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daemon_config(tmp_path, **reports):
    """A daemon whose PBX is down (the start does not wait for it) and no HTTP API."""
    return pbx_config(
        tmp_path / "d.sqlite3", "127.0.0.1", closed_port(), "s", extra={"reports": reports}
    )


def schedule(url, cron="0 7 * * *"):
    return {"name": "daily", "cron": cron, "webhook": url, "format": "json"}


async def test_the_daemon_runs_the_schedules_between_store_and_api(tmp_path):
    async with WebhookServer() as hook:
        loaded = daemon_config(tmp_path, schedules=[schedule(hook.url)])
        async with assembled(loaded) as parts:
            assert parts.reports is not None
            parts.reports.run_now("daily")
            async with asyncio.timeout(10):
                while not (runs := await report_runs.runs(parts.db)):
                    await asyncio.sleep(0.02)
        assert [run.state for run in runs] == [RunState.SENT]
        (request,) = hook.received
        assert request.json()["schedule"] == "daily"


async def test_no_schedules_no_scheduler(tmp_path):
    loaded = daemon_config(tmp_path)
    async with assembled(loaded) as parts:
        assert parts.reports is None


def test_a_reload_keeps_the_running_schedules_and_applies_costs():
    old = load_config(None, overrides={"reports": {"schedules": [schedule("http://a/h")]}})
    new = load_config(
        None,
        overrides={
            "reports": {
                "schedules": [schedule("http://a/h", cron="0 8 * * *")],
                "costs": {"operator_per_hour": 300},
            }
        },
    )
    effective = kept_for_restart(old.settings, new.settings)
    assert effective.reports.schedules == old.settings.reports.schedules
    assert effective.reports.costs == new.settings.reports.costs
    assert changed_keys(effective, new.settings) == ["reports.schedules"]
