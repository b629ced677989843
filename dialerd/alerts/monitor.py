"""The alert monitor: notices causes, raises each alert once, and hands it to the sender.

A task owned by the service. It looks when something may have changed — a result was
enqueued (complaints, big orders: read from the CRM outbox, in order, with a cursor kept
in the store), the outbox moved (backlog), the PBX link went up or down (engine events),
the wake socket was poked (new leads) — and when the next speed-to-lead threshold or the
AMI-down limit comes; otherwise at least every ``RECHECK_S`` (leads added by other paths).
Each raise is one transaction: causes recorded, one message per channel queued.

A look reads a dozen things from the store, and every finished call enqueues a result and
wakes it: looks come at most every ``MIN_GAP_S`` (real seconds), so a busy floor's stream of
results costs about a look a second instead of one per call, and an alert comes at most that
much later.

A look reads between transactions, without one (``reading``), the causes already raised in
one read first; a check opens a write transaction only when that read says it has something
to write, and decides again inside it. Most looks write nothing: each statement is a trip to
SQLite's thread, and a look with a transaction per check cost some 30 trips and an fsync.
The cursors of the result and survey streams are kept in memory and saved with each alert
they raise, otherwise every ``CURSOR_SAVE_S``: a restart reads again at most that much of a
stream, whose part not saved raised nothing (and raising is once per cause anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from dialerd.alerts.channels import Channel, EmailChannel, WebhookChannel
from dialerd.alerts.delivery import AlertSender
from dialerd.clock import WALL_CLOCK, Clock
from dialerd.config import AlertsSettings
from dialerd.config.rules import alert_rules
from dialerd.domain import OperatorsAway
from dialerd.pbx.events import PbxConnected, PbxDisconnected
from dialerd.policy import alerting as rules_
from dialerd.policy.alerting import Alert, Backlog, Rules
from dialerd.policy.caller_id import NumberStats, spam_suspects
from dialerd.store import alerts as store
from dialerd.store import outbox, report_facts, surveys
from dialerd.store.alerts import Outgoing
from dialerd.store.db import StoreTrouble
from dialerd.store.sql import Conn, Store

log = structlog.get_logger(__name__)

RECHECK_S = 30.0
MIN_GAP_S = 1.0  # real seconds between two looks: wakes meanwhile make one look
DIRECT_TIMEOUT_S = 10.0  # one try of an alert sent outside the store
CURSOR_SAVE_S = 30.0  # a stream's cursor is saved at least this often while it moves
_RESULTS_CURSOR = "results_cursor"
_SURVEYS_CURSOR = "surveys_cursor"
_BATCH = 500
# the causes a look's checks decide on, read together at its start (with the caller IDs')
_CAUSES = (
    rules_.CRM_BACKLOG_CAUSE,
    rules_.AMI_DOWN_CAUSE,
    rules_.NO_OPERATORS_CAUSE,
    rules_.DEAD_AIR_CAUSE,
)


def _writes(change: Backlog | None, threshold: float | None, was: bool) -> bool:
    """Whether a threshold check has something to write: a raise it has a threshold for, or
    a clear of a cause that was raised."""
    return (change is Backlog.RAISE and threshold is not None) or (change is Backlog.CLEAR and was)


class Alerter:
    """``async with Alerter(db, settings.alerts):`` — monitor and sender in the background.

    ``crm_pushes``: results are pushed to a CRM (``crm.url`` is set); only then is a CRM
    backlog worth an alert.
    """

    def __init__(
        self,
        db: Store,
        settings: AlertsSettings,
        *,
        crm_pushes: bool = False,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self._db = db
        self._settings = settings
        self._rules: Rules = alert_rules(settings, crm_pushes=crm_pushes)
        self._clock = clock
        self._channels: dict[str, Channel] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._ami_up = False
        self._ami_down_since = clock()
        self._ami_why = "not connected since the daemon started"
        self._away_since: float | None = None  # dialing held: no operator signed in
        self._sender: AlertSender | None = None
        self._store_full_since: float | None = None
        self._direct: set[asyncio.Task[None]] = set()  # store alerts being sent
        self._listeners: list[Callable[[Alert, float], None]] = []
        self._cursors: dict[str, int] = {}  # each stream's cursor as read (saved or not)
        self._saved: dict[str, tuple[int, float]] = {}  # and as saved, when

    def add_listener(self, listener: Callable[[Alert, float], None]) -> None:
        """Also tell ``listener`` each alert as it is raised (the wallboard, issue 13); it must
        not block, and is called whether or not any channel is configured."""
        self._listeners.append(listener)

    def _tell(self, alert: Alert, at: float) -> None:
        for listener in self._listeners:
            try:
                listener(alert, at)
            except Exception:  # a screen's trouble never stops an alert
                log.exception("alert_listener_failed")

    # --- wiring ---------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def on_engine_event(self, event: object) -> None:
        """An engine listener: the PBX link's ups and downs, the store's trouble."""
        if isinstance(event, StoreTrouble):
            self._on_store_trouble(event)
        elif isinstance(event, PbxConnected):
            self._ami_up = True
            self.wake()
        elif isinstance(event, OperatorsAway):
            self._away_since = event.at if event.away else None
            self.wake()
        elif isinstance(event, PbxDisconnected):
            self._away_since = None  # the link holds dialing now, with an alert of its own
            if self._ami_up:
                self._ami_down_since = event.at
            self._ami_up, self._ami_why = False, event.why
            self.wake()

    def _on_store_trouble(self, event: StoreTrouble) -> None:
        if not event.writable:
            self._store_full_since = event.at
            alert = rules_.store_full_alert(event.error, event.at)
        else:
            alert = rules_.store_restored_alert(self._store_full_since or event.at, event.at)
        self._tell(alert, event.at)
        task = asyncio.get_running_loop().create_task(self._send_direct(alert, event.at))
        self._direct.add(task)
        task.add_done_callback(self._direct.discard)

    async def _send_direct(self, alert: Alert, now: float) -> None:
        """One try per channel, outside the store (it may be the thing that is broken)."""
        log.error("alert_raised_direct", kind=alert.kind.value, subject=alert.subject)
        body = {"text": alert.text, "details": dict(alert.details)}
        for name, channel in self._channels.items():
            outgoing = Outgoing(0, alert.kind.value, name, alert.subject, body, now, 0)
            try:
                async with asyncio.timeout(DIRECT_TIMEOUT_S):
                    status, error = await channel.send(outgoing)
            except TimeoutError:
                status, error = None, "timeout"
            if status is None or not 200 <= status < 300:
                log.error("alert_failed", kind=alert.kind.value, channel=name, error=error)
            else:
                log.info("alert_sent", kind=alert.kind.value, channel=name, direct=True)

    async def __aenter__(self) -> Alerter:
        s = self._settings
        if s.webhook.url is not None:
            self._channels["webhook"] = WebhookChannel(s.webhook, s.webhook.resolved_secret())
        if s.email.host is not None:
            self._channels["email"] = EmailChannel(s.email, s.email.resolved_password())
        self._sender = AlertSender(self._db, s, self._channels, clock=self._clock)
        self._unsubscribe = outbox.on_enqueue(self._db.conn, self.wake)
        self._tasks = [
            asyncio.create_task(self._monitor(), name="alerts-monitor"),
            asyncio.create_task(self._sender.run(), name="alerts-sender"),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in [*self._tasks, *self._direct]:
            task.cancel()
        for task in [*self._tasks, *self._direct]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self._channels.values():
            await channel.aclose()
        if self._unsubscribe is not None:
            self._unsubscribe()

    # --- the monitor ----------------------------------------------------------------------
    async def _monitor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            looked_at = loop.time()
            try:
                wake_at = await self.check()
            except Exception:
                log.exception("alert_monitor_error")
                wake_at = self._clock() + RECHECK_S
            now = self._clock()
            wait = min(RECHECK_S, wake_at - now) if wake_at is not None else RECHECK_S
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._clock.real_seconds(max(0.0, wait))):
                    await self._wake.wait()
            await asyncio.sleep(max(0.0, looked_at + MIN_GAP_S - loop.time()))
            self._wake.clear()

    async def check(self) -> float | None:
        """Look at every cause once; return when the next one may come due."""
        now = self._clock()
        async with self._db.reading() as conn:
            raised = await store.raised_causes(conn, _CAUSES, rules_.CALLER_ID_CAUSES)
        await self._follow(_RESULTS_CURSOR, self._result_alerts, now)
        await self._follow(_SURVEYS_CURSOR, self._survey_alerts, now)
        await self._backlog(now, raised)
        next_at = await self._speed_to_lead(now)
        ami_at = await self._ami(now, raised)
        away_at = await self._no_operators(now, raised)
        await self._dead_air(now, raised)
        await self._caller_ids(now, raised)
        return min((t for t in (next_at, ami_at, away_at) if t is not None), default=None)

    async def _raise(self, conn: Conn, alert: Alert, now: float) -> None:
        if await store.raise_alert(conn, alert, list(self._channels), now):
            self._tell(alert, now)
            log.warning(
                "alert_raised",
                kind=alert.kind.value,
                subject=alert.subject,
                channels=list(self._channels),
            )
            assert self._sender is not None
            self._sender.wake()

    async def _follow(
        self,
        name: str,
        alerts_after: Callable[[Conn, int], Awaitable[list[tuple[int, list[Alert]]]]],
        now: float,
    ) -> None:
        """Read a stream (results, answered surveys) past its cursor ``name`` and raise what
        it holds. The cursor is saved in the transaction of the alerts it raises, so a saved
        cursor is always past every alert raised; otherwise at most every ``CURSOR_SAVE_S``."""
        cursor = self._cursors.get(name)
        if cursor is None:
            async with self._db.reading() as conn:
                cursor = int(await store.get_state(conn, name, 0))
            self._saved[name] = (cursor, now)
        while True:
            async with self._db.reading() as conn:
                batch = await alerts_after(conn, cursor)
            if batch:
                cursor = batch[-1][0]
            alerts = [alert for _, found in batch for alert in found]
            saved_at = self._saved[name][1]
            if alerts or (cursor != self._saved[name][0] and now - saved_at >= CURSOR_SAVE_S):
                async with self._db.transaction() as conn:
                    for alert in alerts:
                        await self._raise(conn, alert, now)
                    await store.set_state(conn, name, cursor)
                self._saved[name] = (cursor, now)
            self._cursors[name] = cursor
            if len(batch) < _BATCH:
                return

    async def _result_alerts(self, conn: Conn, cursor: int) -> list[tuple[int, list[Alert]]]:
        """Results enqueued for the CRM after ``cursor``, each with its alerts."""
        batch = await store.results_after(conn, cursor, _BATCH)
        return [(row_id, rules_.result_alerts(message, self._rules)) for row_id, message in batch]

    async def _survey_alerts(self, conn: Conn, cursor: int) -> list[tuple[int, list[Alert]]]:
        """Surveys answered after ``cursor``, each with its alert (a detractor)."""
        batch = await surveys.surveyed_after(conn, cursor, _BATCH)
        return [
            (row_id, [a for a in (rules_.detractor_alert(answer, self._rules),) if a is not None])
            for row_id, answer in batch
        ]

    async def _backlog(self, now: float, raised: dict[str, float]) -> None:
        async with self._db.reading():
            pending = await outbox.pending_count(self._db)
        was = raised.get(rules_.CRM_BACKLOG_CAUSE) is not None
        change = rules_.backlog_change(pending, self._rules.crm_backlog, was)
        if not _writes(change, self._rules.crm_backlog, was):
            return  # nothing to write: the transaction below would find the same
        async with self._db.transaction() as conn:
            raised_at = await store.cause_raised_at(conn, rules_.CRM_BACKLOG_CAUSE)
            change = rules_.backlog_change(pending, self._rules.crm_backlog, raised_at is not None)
            if change is Backlog.RAISE and self._rules.crm_backlog is not None:
                await self._raise(conn, rules_.backlog_alert(pending, self._rules.crm_backlog), now)
            elif change is Backlog.CLEAR and raised_at is not None:
                await store.clear_cause(conn, rules_.CRM_BACKLOG_CAUSE)
                if self._rules.crm_backlog is not None:
                    await self._raise(conn, rules_.backlog_cleared_alert(pending, raised_at), now)

    async def _speed_to_lead(self, now: float) -> float | None:
        rules = self._rules
        if rules.warn_s is None and not rules.missed:
            return None
        horizon = now + (rules.warn_s or 0.0)
        async with self._db.reading() as conn:
            near = await store.near_deadline(conn, horizon)
        alerts = rules_.speed_to_lead_alerts(near, now, rules)
        if alerts:  # each raised once: a cause raised meanwhile makes its raise a no-op
            async with self._db.transaction() as conn:
                for alert in alerts:
                    await self._raise(conn, alert, now)
        async with self._db.reading() as conn:
            firsts = await store.first_deadlines_after(conn, now, horizon)
        return rules_.next_speed_to_lead_check(*firsts, rules)

    async def _no_operators(self, now: float, raised: dict[str, float]) -> float | None:
        """Raise once per spell with nobody signed in, when a lead is past its deadline;
        cleared (re-armed) when someone signs in. Returns the next deadline to look at."""
        was = raised.get(rules_.NO_OPERATORS_CAUSE) is not None
        if self._away_since is None and not was:
            return None  # somebody is signed in, and nothing to clear
        if self._away_since is not None and (not self._rules.no_operators or was):
            return None
        async with self._db.transaction() as conn:
            raised_at = await store.cause_raised_at(conn, rules_.NO_OPERATORS_CAUSE)
            since = self._away_since
            if since is None:
                if raised_at is not None:
                    await store.clear_cause(conn, rules_.NO_OPERATORS_CAUSE)
                return None
            if not self._rules.no_operators or raised_at is not None:
                return None
            missed, count = await store.past_deadline(conn, now, rules_.LIST_AT_MOST)
            if count:
                await self._raise(conn, rules_.no_operators_alert(since, now, missed, count), now)
                return None
            return await store.first_deadline_after(conn, now)

    async def _dead_air(self, now: float, raised: dict[str, float]) -> None:
        """Customers waiting too long after answering for an operator (the median of the
        window's calls): raised once, cleared with one all-clear when back under."""
        threshold = self._rules.dead_air_s
        was = raised.get(rules_.DEAD_AIR_CAUSE) is not None
        async with self._db.reading() as conn:
            waits = await store.answer_waits(conn, now - rules_.DEAD_AIR_WINDOW_S)
        change = rules_.dead_air_change(waits, threshold, was)
        if not _writes(change, threshold, was):
            return
        async with self._db.transaction() as conn:
            raised_at = await store.cause_raised_at(conn, rules_.DEAD_AIR_CAUSE)
            waits = await store.answer_waits(conn, now - rules_.DEAD_AIR_WINDOW_S)
            change = rules_.dead_air_change(waits, threshold, raised_at is not None)
            if change is Backlog.RAISE and threshold is not None:
                await self._raise(conn, rules_.dead_air_alert(waits, threshold), now)
            elif change is Backlog.CLEAR and raised_at is not None:
                await store.clear_cause(conn, rules_.DEAD_AIR_CAUSE)
                if threshold is not None:
                    await self._raise(conn, rules_.dead_air_cleared_alert(waits, raised_at), now)

    async def _caller_ids(self, now: float, raised: dict[str, float]) -> None:
        """A caller ID answered far less often than its campaign's others (likely labelled
        spam): raised once per number, re-armed when it recovers."""
        share = self._rules.caller_id_share
        if share is None:
            return
        async with self._db.reading():
            rows = await report_facts.caller_id_facts(
                self._db, now - rules_.CALLER_ID_WINDOW_S, now + 1.0
            )
        stats = [NumberStats(r.campaign, r.caller_id, r.attempts, r.answered) for r in rows]
        suspects = spam_suspects(
            stats, share=share, min_attempts=self._rules.caller_id_min_attempts
        )
        flagged = {rules_.caller_id_cause(s.number.campaign, s.number.caller_id) for s in suspects}
        causes = {rules_.caller_id_cause(n.campaign, n.caller_id) for n in stats}
        if flagged <= set(raised) and not (causes - flagged) & set(raised):
            return  # every suspect already alerted, and no alerted number to re-arm
        async with self._db.transaction() as conn:
            for suspect in suspects:
                await self._raise(conn, rules_.caller_id_spam_alert(suspect, share), now)
            for number in stats:
                cause = rules_.caller_id_cause(number.campaign, number.caller_id)
                if cause not in flagged and await store.cause_raised_at(conn, cause) is not None:
                    await store.clear_cause(conn, cause)

    async def _ami(self, now: float, raised: dict[str, float]) -> float | None:
        limit = self._rules.ami_down_s
        was = raised.get(rules_.AMI_DOWN_CAUSE) is not None
        if self._ami_up:
            if not was:
                return None  # up, and nothing to clear
        elif limit is None or was:
            return None
        elif now - self._ami_down_since < limit:
            return self._ami_down_since + limit
        async with self._db.transaction() as conn:
            raised_at = await store.cause_raised_at(conn, rules_.AMI_DOWN_CAUSE)
            if self._ami_up:
                if raised_at is not None:
                    await store.clear_cause(conn, rules_.AMI_DOWN_CAUSE)
                    await self._raise(conn, rules_.ami_restored_alert(raised_at, now), now)
                return None
            if limit is None or raised_at is not None:
                return None
            if now - self._ami_down_since >= limit:
                alert = rules_.ami_down_alert(self._ami_down_since, now, self._ami_why)
                await self._raise(conn, alert, now)
                return None
            return self._ami_down_since + limit
