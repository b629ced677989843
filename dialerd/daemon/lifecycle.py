"""The lifecycle of ``dialerd run`` under systemd (R12): ready, watchdog, reload, stop.

- ``READY=1`` once the store is migrated and the first AMI login has been tried, on every
  PBX: a PBX that is down must not fail (or hold up) the start, the adapter keeps retrying
  (``STATUS=`` says so).
- ``WATCHDOG=1`` from the event loop every ``WatchdogSec/2``: a stuck loop stops pinging
  and systemd restarts the daemon.
- SIGHUP re-reads the YAML. A bad file is logged (file:line: field) and changes nothing;
  a good one applies from the next pick, calls in flight are untouched. Sections built into
  long-lived objects (``RESTART_SECTIONS``) keep their running values, with a warning.
- SIGTERM stops originating and drains calls in flight up to ``daemon.drain_timeout_s``
  (arq's stop, drain, then cancel: STYLE.md lesson 2); a second SIGTERM ends at once and
  leaves the attempts 'dialing' for the next start to reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from pydantic import BaseModel

from dialerd.config import ConfigError, LoadedConfig, Settings, load_config
from dialerd.daemon.logs import configure_logging
from dialerd.daemon.sdnotify import Notifier, monotonic_usec, watchdog_interval_s
from dialerd.dialer.engine import Engine
from dialerd.dialer.events import AttemptStarted, EngineEvent
from dialerd.dialer.fleet import Fleet
from dialerd.domain import FinishedCall
from dialerd.pbx.ami import AmiPbx

log = structlog.get_logger(__name__)

# The store connection, the AMI session, the drain timeout, the CRM outbox worker, the
# alert channels and the report schedules (cron jobs) are set up once at start. A dotted
# name keeps one key of a section: the rest of ``reports`` (costs, targets) reloads.
RESTART_SECTIONS = (
    "store",
    "ami",
    "daemon",
    "crm",
    "alerts",
    "api",
    "reports.schedules",
    "console.enabled",
    "console.host",
    "console.port",
    "console.tls_cert",
    "console.tls_key",
    "console.passwords_file",
)


@dataclass
class Tally:
    """Engine listener counting what this run did, for the summary line at the end."""

    started: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, AttemptStarted):
            self.started += 1
        elif isinstance(event, FinishedCall):
            self.outcomes[event.outcome.value] += 1


@dataclass(frozen=True)
class StopSummary:
    """How the run ended: the fields of the one ``daemon_stopped`` line."""

    how: Literal["idle", "drained", "drain_timeout", "stopped_at_once"]
    attempts_started: int
    attempts_finished: int
    outcomes: dict[str, int]
    left_dialing: int
    uptime_s: float

    def fields(self) -> dict[str, Any]:
        return {
            "how": self.how,
            "attempts_started": self.attempts_started,
            "attempts_finished": self.attempts_finished,
            "outcomes": self.outcomes,
            "left_dialing": self.left_dialing,
            "uptime_s": round(self.uptime_s, 1),
        }


class Lifecycle:
    """Runs the engine and answers the service manager and the signals around it."""

    def __init__(
        self,
        engine: Engine | Fleet,
        pbx: AmiPbx,
        loaded: LoadedConfig,
        notifier: Notifier,
        tally: Tally,
        *,
        reloaders: Sequence[Callable[[Settings], None]] = (),
    ) -> None:
        """``reloaders`` take a new config's secrets (the browser phones' passwords) before
        it applies; one that raises ConfigError rejects the reload, as a bad YAML does."""
        self._engine = engine
        self._pbx = pbx
        self._path = loaded.path
        self.settings = loaded.settings
        self._notify = notifier
        self._tally = tally
        self._reloaders = tuple(reloaders)
        self._ready_task: asyncio.Task[None] | None = None
        self._ready = False
        self._stopping = False
        self._at_once = False
        self._note = ""  # sticky STATUS suffix, e.g. a rejected reload

    # --- running ----------------------------------------------------------------------------
    async def run(self, *, until_idle: bool = False) -> StopSummary:
        """Run the engine to its end; the stop path decides how that end looks."""
        started_at = time.monotonic()
        self._ready_task = asyncio.create_task(self._announce_ready(), name="sd-ready")
        helpers = [self._ready_task]
        interval = watchdog_interval_s()
        if self._notify.enabled and interval is not None:
            helpers.append(asyncio.create_task(self._watchdog(interval), name="sd-watchdog"))
        try:
            await self._engine.run(
                until_idle=until_idle, drain_timeout_s=self.settings.daemon.drain_timeout_s
            )
        finally:
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
        left = self._engine.in_flight
        how: Literal["idle", "drained", "drain_timeout", "stopped_at_once"]
        if not left:
            how = "drained" if self._stopping else "idle"
        else:
            how = "stopped_at_once" if self._at_once else "drain_timeout"
        return StopSummary(
            how=how,
            attempts_started=self._tally.started,
            attempts_finished=sum(self._tally.outcomes.values()),
            outcomes=dict(self._tally.outcomes),
            left_dialing=left,
            uptime_s=time.monotonic() - started_at,
        )

    async def _announce_ready(self) -> None:
        """READY=1 after the first store read and the first login attempt (of every PBX),
        whatever its result."""
        await self._engine.started.wait()
        if isinstance(self._engine, Fleet):
            await self._engine.logins_attempted()
        else:
            await self._pbx.attempted.wait()
        self._ready = True
        log.info("daemon_ready", ami_logged_in=self._logged_in())
        self._notify.send("READY=1", f"STATUS={self.status()}")

    async def _watchdog(self, interval_s: float) -> None:
        """Pinged from the event loop itself: if the loop is stuck, the pings stop."""
        while True:
            self._notify.send("WATCHDOG=1", f"STATUS={self.status()}")
            await asyncio.sleep(interval_s)

    def status(self) -> str:
        """One line for ``systemctl status``."""
        state = "stopping" if self._stopping else "dialing"
        lines = f"{self._engine.in_flight}/{self.settings.dialing.max_concurrent_calls}"
        ami = "AMI logged in" if self._logged_in() else "AMI down, retrying"
        return f"{state}: {lines} calls in flight; {ami}{self._note}"

    def _logged_in(self) -> bool:
        """Logged in to Asterisk: to every PBX, when the daemon drives several."""
        if isinstance(self._engine, Fleet):
            return self._engine.connected()
        return self._pbx.connected.is_set()

    # --- signals ----------------------------------------------------------------------------
    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    def stop(self) -> None:
        """First call: stop dialing and drain. Second call: end now, calls left 'dialing'."""
        if not self._stopping:
            self._stopping = True
            if self._ready_task is not None:
                self._ready_task.cancel()
            log.info(
                "daemon_stopping",
                in_flight=self._engine.in_flight,
                drain_timeout_s=self.settings.daemon.drain_timeout_s,
            )
            self._notify.send("STOPPING=1", f"STATUS={self.status()}")
            self._engine.stop()
        elif not self._at_once:
            self._at_once = True
            log.warning("daemon_stop_now", left_dialing=self._engine.in_flight)
            self._engine.stop_now()

    def reload(self) -> None:
        """Re-read the config file; keep the running config if it is invalid."""
        if self._stopping:
            log.info("reload_ignored", why="stopping")
            return
        announce = self._ready  # before READY=1, systemd is not waiting for a reload to end
        if announce:
            self._notify.send(
                "RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", "STATUS=reloading config"
            )
        try:
            loaded = load_config(self._path)
            for reload_secrets in self._reloaders:
                reload_secrets(loaded.settings)
        except ConfigError as exc:
            log.error("reload_rejected", config=str(self._path), problems=exc.problems)
            self._note = f"; last reload rejected: {exc.problems[0]}"
        else:
            self._apply(loaded)
            self._note = ""
        if announce:
            self._notify.send("READY=1", f"STATUS={self.status()}")

    def _apply(self, loaded: LoadedConfig) -> None:
        old, new = self.settings, loaded.settings
        for warning in loaded.warnings:
            log.warning("config_warning", warning=warning)
        effective = kept_for_restart(old, new)
        if needs_restart := changed_keys(effective, new):
            log.warning(
                "reload_needs_restart",
                keys=needs_restart,
                why="kept the running values until the daemon restarts",
            )
        changed = changed_keys(old, effective)
        self._engine.reload(effective)
        if effective.logging != old.logging:
            configure_logging(effective.logging.level, effective.logging.format)
        self.settings = effective
        log.info("config_reloaded", config=str(self._path), changed=changed)


def kept_for_restart(old: Settings, new: Settings) -> Settings:
    """``new`` with the running values of ``RESTART_SECTIONS`` (a section, or one of its keys)."""
    for name in RESTART_SECTIONS:
        section, _, key = name.partition(".")
        if key:
            value = getattr(new, section).model_copy(
                update={key: getattr(getattr(old, section), key)}
            )
        else:
            value = getattr(old, section)
        new = new.model_copy(update={section: value})
    return new


def changed_keys(old: BaseModel, new: BaseModel) -> list[str]:
    """Dotted names of the leaf values that differ (names only: values may be secrets)."""
    return sorted(_diff(old.model_dump(), new.model_dump(), ""))


def _diff(old: Any, new: Any, prefix: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in old.keys() | new.keys():
            found += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [prefix.rstrip(".")] if old != new else []
