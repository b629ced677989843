"""Scheduled reports (R10, issue 6): APScheduler 3.x runs one cron job per schedule inside the
daemon; each run builds the report for the period relative to its fire time, renders it,
delivers it (``dialerd.reports.delivery``) and records the outcome in ``report_runs``.

The only module that touches APScheduler (STYLE.md: 3.x's ``AsyncIOScheduler``, confined).
- Cron times are read in the centre's time zone (``window.timezone``), on the wall clock:
  the demo's faster clock does not speed up schedules.
- ``coalesce`` and no misfire limit: a run that is late (a busy loop, the catch-up at start)
  runs once, for its most recent fire time; ``max_instances=1``: a run still retrying its
  delivery is not overlapped by the next.
- At start, a run missed while the daemon was down is skipped (recorded as such) or run
  once, as the schedule says (``dialerd.reports.catchup``); the catch-up is the job's first
  run time, so APScheduler runs it like any other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx
import structlog
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from dialerd.config import Settings
from dialerd.config.reports import ScheduleSettings
from dialerd.delivery.http import webhook_client
from dialerd.delivery.mail import send_mail
from dialerd.policy.delivery import RetryRules
from dialerd.reports import delivery
from dialerd.reports.catchup import MissedAction, NextFire, missed_run
from dialerd.reports.model import Period, Report
from dialerd.reports.period import relative
from dialerd.store import report_runs
from dialerd.store.report_runs import ReportRun, RunState
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)

# Delivery tries per channel within one run: 30 s, 60 s, 120 s apart (× jitter), ~3.5 min.
DEFAULT_RETRIES = RetryRules(max_tries=4, backoff_initial_s=30.0, backoff_max_s=300.0)


class ReportBuilder(Protocol):
    def __call__(
        self, db: Store, settings: Settings, period: Period, by: str | None, *, now: float
    ) -> Awaitable[Report]: ...


def _build_report() -> ReportBuilder:
    from dialerd.reports.build import build_report

    return build_report


def _render() -> delivery.Renderer:
    from dialerd.reports.render import render

    return render


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 is Sunday
_DAY_TERM = re.compile(r"^(\*|\w+)(?:-(\w+))?(?:/(\d+))?$")


def crontab_trigger(expression: str, timezone: ZoneInfo) -> CronTrigger:
    """A trigger that reads the weekday field as crontab does.

    APScheduler 3.x's ``from_crontab`` counts weekdays from Monday = 0 (its issue 286, fixed
    only in 4.x), so "0 8 * * 1" would fire on Tuesdays. The field is rewritten as day names.
    """
    minute, hour, day, month, weekday = expression.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekdays(weekday),
        timezone=timezone,
    )


def _weekdays(field: str) -> str:
    """Crontab weekdays ("1-5", "0,6", "*/2", "mon-fri") as APScheduler day names."""
    if field == "*":
        return field
    days: set[int] = set()
    for term in field.split(","):
        match = _DAY_TERM.match(term.lower())
        if match is None:
            raise ValueError(f"weekday field {field!r}: cannot read {term!r}")
        first, last, step = match.groups()
        if first == "*":
            start, end = 0, 6
        else:
            start = _day(first, field)
            end = start if last is None else _day(last, field)
            if last is not None and end == 0:  # "5-7", "fri-sun": up to Sunday
                end = 7
            if end < start:
                raise ValueError(f"weekday field {field!r}: {term!r} runs backwards")
            if step is not None and last is None:  # "1/2": from Monday on, every 2nd day
                end = 6
        days.update(n % 7 for n in range(start, end + 1, int(step or 1)))
    return ",".join(_DAYS[n] for n in sorted(days))


def _day(text: str, field: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text) % 7
    if text[:3] in _DAYS and len(text) == 3:
        return _DAYS.index(text)
    raise ValueError(f"weekday field {field!r}: {text!r} is not a day (0-7 or sun-sat)")


def next_fire(trigger: CronTrigger) -> NextFire:
    """The trigger's first fire time strictly after a moment (crons fire on whole seconds)."""
    one = dt.timedelta(microseconds=1)
    # In UTC: wall-clock arithmetic in the hour a DST change repeats would step backwards.
    return lambda moment: trigger.get_next_fire_time(None, moment.astimezone(dt.UTC) + one)


class ReportScheduler:
    """``async with ReportScheduler(db, lambda: settings):`` the reports go out on their own.

    ``settings`` is read at each run (costs and targets follow a reload); the schedules
    themselves are taken once, at start. ``build`` and ``render`` default to
    ``dialerd.reports.build.build_report`` and ``dialerd.reports.render.render``.
    """

    def __init__(
        self,
        db: Store,
        settings: Callable[[], Settings],
        *,
        build: ReportBuilder | None = None,
        render: delivery.Renderer | None = None,
        wall: Callable[[], float] = time.time,
        retries: RetryRules = DEFAULT_RETRIES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._settings = settings
        self._build = build
        self._render = render
        self._wall = wall
        self._retries = retries
        self._sleep = sleep
        self._schedules: dict[str, ScheduleSettings] = {}
        self._zone = ZoneInfo("UTC")
        self._scheduler: AsyncIOScheduler | None = None
        self._client: httpx.AsyncClient | None = None
        self._password: str | None = None
        self._fire_times: dict[str, dt.datetime] = {}
        self._running: set[asyncio.Task[object]] = set()
        self._closing = False

    # --- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> ReportScheduler:
        settings = self._settings()
        schedules = settings.reports.schedules
        self._closing = False  # entered again when this daemon leads again (``Leader``)
        self._schedules = {schedule.name: schedule for schedule in schedules}
        self._zone = ZoneInfo(settings.window.timezone)
        if any(schedule.email for schedule in schedules):
            self._password = settings.alerts.email.resolved_password()  # fail before starting
        if any(schedule.webhook for schedule in schedules):
            self._client = webhook_client(delivery.WEBHOOK_TIMEOUT_S)
        scheduler = AsyncIOScheduler(timezone=self._zone)
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        try:
            now = dt.datetime.fromtimestamp(self._wall(), self._zone)
            for schedule in schedules:
                trigger = crontab_trigger(schedule.cron, self._zone)
                first_run = await self._catch_up(schedule, trigger, now)
                scheduler.add_job(
                    self._fire,
                    trigger,
                    args=(schedule.name,),
                    id=schedule.name,
                    name=f"report {schedule.name}",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=None,
                    **({"next_run_time": first_run} if first_run is not None else {}),
                )
            scheduler.start()
        except BaseException:
            await self._close_client()
            raise
        self._scheduler = scheduler
        for job in scheduler.get_jobs():
            log.info("report_scheduled", schedule=job.id, next_run=job.next_run_time.isoformat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop submitting, end the runs under way (unrecorded: the next start finds them
        missed and applies the schedule's policy), then shut APScheduler down."""
        scheduler, self._scheduler = self._scheduler, None
        self._closing = True
        if scheduler is not None and scheduler.running:
            scheduler.pause()
            await asyncio.sleep(0)  # a job submitted just now starts and joins ``_running``
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
        await self._close_client()

    async def _close_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _catch_up(
        self, schedule: ScheduleSettings, trigger: CronTrigger, now: dt.datetime
    ) -> dt.datetime | None:
        """The missed-run policy at start; returns the job's first run time for ``run_once``."""
        last = await report_runs.last_fire_time(self._db, schedule.name)
        last_fire = None if last is None else dt.datetime.fromtimestamp(last, self._zone)
        missed = missed_run(schedule.missed, last_fire, now, next_fire(trigger))
        if missed is None:
            return None
        fire_time = missed.fire_time.astimezone(self._zone)
        log.warning(
            "report_run_missed",
            schedule=schedule.name,
            fire_time=fire_time.isoformat(),
            last_run=None if last_fire is None else last_fire.isoformat(),
            action=missed.action.value,
        )
        if missed.action is MissedAction.RUN_ONCE:
            return fire_time
        period = self._period(schedule, fire_time)
        await report_runs.record_run(
            self._db,
            ReportRun(
                schedule.name,
                fire_time.timestamp(),
                period.first_day,
                period.last_day,
                RunState.SKIPPED,
                "missed while the daemon was down",
                0,
                self._wall(),
            ),
        )
        return None

    # --- running ----------------------------------------------------------------------------
    def run_now(self, name: str, fire_time: dt.datetime | None = None) -> None:
        """Have APScheduler run ``name`` now, for ``fire_time`` (default: now) — or for the
        schedule's latest cron time between ``fire_time`` and now, if there is one."""
        if self._scheduler is None:
            raise RuntimeError("the report scheduler is not running")
        at = fire_time or dt.datetime.fromtimestamp(self._wall(), self._zone)
        self._scheduler.modify_job(name, next_run_time=at)

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        """APScheduler 3.x does not pass the fire time to the job: keep it for ``_fire``.
        The listener runs in the same loop callback as the submission, before the job starts."""
        self._fire_times[event.job_id] = event.scheduled_run_times[-1]

    async def _fire(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        fire_time = self._fire_times.pop(name, None)
        if fire_time is None:  # not seen by the listener: should not happen; now is close
            fire_time = dt.datetime.fromtimestamp(self._wall(), self._zone)
        try:
            await self.run(self._schedules[name], fire_time)
        except asyncio.CancelledError:
            if not self._closing:
                raise
            # Ended by our own stop: return normally, or APScheduler logs it as a job error.
            task.uncancel()
            log.info("report_run_interrupted", schedule=name, fire_time=fire_time.isoformat())
        finally:
            self._running.discard(task)

    def _period(self, schedule: ScheduleSettings, fire_time: dt.datetime) -> Period:
        return relative(schedule.period, fire_time.timestamp(), str(self._zone))

    async def run(self, schedule: ScheduleSettings, fire_time: dt.datetime) -> ReportRun:
        """One run: build, render, deliver to each channel (with retries), record."""
        settings = self._settings()
        period = self._period(schedule, fire_time)
        bound = log.bind(
            schedule=schedule.name,
            fire_time=fire_time.isoformat(),
            period=delivery.period_label(period),
        )
        errors: list[str] = []
        tries = 0
        try:
            build = self._build or _build_report()
            render = self._render or _render()
            report = await build(self._db, settings, period, schedule.by, now=self._wall())
            attempts: list[tuple[str, delivery.Try]] = []
            if schedule.email:
                smtp = settings.alerts.email
                message = delivery.email_message(schedule, report, render, smtp.sender)
                password = self._password

                async def mail() -> tuple[int | None, str | None]:
                    return await send_mail(smtp, password, message)

                attempts.append(("email", mail))
            if schedule.webhook is not None:
                assert self._client is not None
                request = delivery.webhook_request(schedule, report, render, fire_time.timestamp())
                client, url = self._client, schedule.webhook

                async def post() -> tuple[int | None, str | None]:
                    return await delivery.post_webhook(client, url, request)

                attempts.append(("webhook", post))
        except Exception as exc:
            bound.exception("report_build_failed")
            errors.append(f"build: {type(exc).__name__}: {exc}")
            attempts = []
        for channel, attempt in attempts:
            outcome = await delivery.with_retries(attempt, self._retries, sleep=self._sleep)
            tries += outcome.tries
            if not outcome.ok:
                errors.append(f"{channel}: {outcome.error}")
        state = RunState.FAILED if errors else RunState.SENT
        run = ReportRun(
            schedule.name,
            fire_time.timestamp(),
            period.first_day,
            period.last_day,
            state,
            "; ".join(errors) or None,
            tries,
            self._wall(),
        )
        await report_runs.record_run(self._db, run)
        if errors:
            bound.error("report_failed", error=run.error, tries=tries)
        else:
            bound.info("report_sent", tries=tries)
        return run
