"""The wallboard's numbers (issue 13): the engine's live state, a cheap store read, and
today's report, in one ``wallboard`` message.

Three sources, each read as often as it changes:
- *live*, from the engine's memory: calls in flight by phase (``dialer.floor``), each
  operator's presence and time in it (the hub's views, the same the operator sees), the
  pace in force per campaign, paused campaigns, the PBX link. Free to read.
- *the store, cheaply*: leads waiting by tier and due now, the new lead closest to its
  speed-to-lead deadline, each operator's day (the operator page's counts).
- *today's report* (``reports.build``, the same numbers ``dialerd report`` prints) and each
  campaign's abandon window (the pacer's own query): heavier, refreshed by the feed only
  when a call ended or a result was recorded, at most every few seconds.

The message carries values and language-neutral texts (``"93%"``, ``"4:05"``); the page
turns enums (presence, tier, alert kind) into words from its catalog, so one message
serves supervisors in every language.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialerd.config import Settings
from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.floor import phases
from dialerd.dialer.pacer import abandon_window_since
from dialerd.formats import decimal_amount
from dialerd.policy.abandon import AbandonStats
from dialerd.policy.alerting import Alert
from dialerd.policy.modes import DialMode
from dialerd.policy.pick import Policy
from dialerd.policy.priority import describe_rank
from dialerd.policy.wallboard import Limits, cap_level, deadline_level, overrun, share_level
from dialerd.reports.build import build_report
from dialerd.reports.model import Report
from dialerd.reports.period import days, local_today
from dialerd.store import calls as call_store
from dialerd.store import floor as floor_store
from dialerd.store.sql import Store
from dialerd.web import wallboard_charts
from dialerd.web.context import Floor
from dialerd.web.i18n import Translator
from dialerd.web.messages import message
from dialerd.web.presence import OperatorView

Payload = dict[str, Any]
ALERTS_SHOWN = 12
PRESENCES = ("free", "ringing", "talking", "wrapup", "paused", "offline")


def clock_text(seconds: float | None) -> str:
    """``4:05``, ``1:02:03``; an em dash for nothing measured."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    h, m, r = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02d}:{r:02d}" if h else f"{m}:{r:02d}"


def percent_text(share: float | None, digits: int = 0) -> str:
    if share is None or math.isnan(share):
        return "—"
    return f"{share * 100:.{digits}f}%"


def number(value: float | int | None, text: str, level: str = "ok", **more: Any) -> Payload:
    return {"value": value, "text": text, "level": level, **more}


@dataclass
class Today:
    """The heavier part, kept between refreshes; ``at`` versions the charts."""

    report: Report | None = None
    abandon: dict[str, AbandonStats] = field(default_factory=dict)
    at: float = 0.0


class Wallboard:
    """Builds ``wallboard`` messages; ``today`` is refreshed by the feed (``refresh_today``)."""

    def __init__(
        self,
        reader: Store,
        settings: Callable[[], Settings],
        policy: Callable[[], Policy],
        board: Callable[[], OperatorBoard],
        views: Callable[[float], list[tuple[OperatorView, float]]],
        floor: Floor,
        pbx_connected: Callable[[], bool],
        clock: Callable[[], float],
    ) -> None:
        self._reader = reader
        self._settings = settings
        self._policy = policy
        self._board = board
        self._views = views
        self._floor = floor
        self._pbx_connected = pbx_connected
        self._clock = clock
        self.today = Today()
        self.alerts: deque[Payload] = deque(maxlen=ALERTS_SHOWN)
        self._charts: dict[str, tuple[float, str]] = {}  # language -> (today.at, html)

    def charts(self, t: Translator) -> str:
        """Today's charts in the person's language (drawn once per refresh and language)."""
        today = self.today
        if today.report is None:
            return ""
        cached = self._charts.get(t.code)
        if cached is not None and cached[0] == today.at:
            return cached[1]
        settings = self._settings()
        hour = datetime.fromtimestamp(self._clock(), settings.policy.tz).hour
        html = wallboard_charts.render(today.report, t, hour, settings.window.open.hour)
        self._charts[t.code] = (today.at, html)
        return html

    # --- alerts ---------------------------------------------------------------------------
    def on_alert(self, alert: Alert, at: float) -> None:
        self.alerts.appendleft({"at": at, "kind": alert.kind.value, "subject": alert.subject})

    async def load_alerts(self) -> None:
        """The latest alerts the store kept (a restart does not empty the list)."""
        for stored in reversed(await floor_store.latest_alerts(self._reader, ALERTS_SHOWN)):
            self.alerts.appendleft(
                {"at": stored.at, "kind": stored.kind, "subject": stored.subject}
            )

    # --- today's report -------------------------------------------------------------------
    async def refresh_today(self) -> None:
        settings, now = self._settings(), self._clock()
        zone = settings.window.timezone
        today = local_today(now, zone)
        report = await build_report(
            self._reader, settings, days(today, today, zone), "hour", now=now
        )
        abandon = {}
        for name, campaign in self._policy().campaigns.items():
            if campaign.mode is DialMode.AGENT_FIRST or campaign.group is None:
                continue
            stats, _ = await call_store.campaign_stats(
                self._reader,
                name,
                now,
                window_since=abandon_window_since(campaign, now, self._policy().tz),
                recent_s=campaign.predictive.answer_rate_window_min * 60.0,
                abandon_after_s=campaign.abandon.after_s,
            )
            abandon[name] = stats
        self.today = Today(report, abandon, now)

    # --- the message ----------------------------------------------------------------------
    async def build(self) -> Payload:
        now = self._clock()
        settings = self._settings()
        midnight = datetime.fromtimestamp(now, settings.policy.tz).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        waiting = await floor_store.waiting(self._reader, now)
        oldest = await floor_store.oldest_new(self._reader)
        days_ = await floor_store.operators_today(self._reader, midnight.timestamp())
        numbers: Payload = {}
        for phase, count in phases(self._floor.tracks()).items():
            numbers[f"calls_{phase.value}"] = number(count, str(count))
        views = self._views(now)
        by_presence = Counter(view.presence.value for view, _ in views)
        for presence in PRESENCES:
            numbers[f"ops_{presence}"] = number(by_presence[presence], str(by_presence[presence]))
        numbers.update(self._waiting_numbers(waiting, oldest, settings, now))
        numbers.update(self._today_numbers(settings))
        return message(
            "wallboard",
            at=now,
            zone=str(settings.policy.tz),
            pbx=self._pbx_connected(),
            numbers=numbers,
            tiers=self._tiers(waiting),
            campaigns=self._campaigns(),
            operators=self._operators(views, days_, settings, now),
            alerts=list(self.alerts),
            charts_at=self.today.at,
        )

    def _waiting_numbers(
        self,
        waiting: list[floor_store.Waiting],
        oldest: floor_store.OldestNew | None,
        settings: Settings,
        now: float,
    ) -> Payload:
        total = sum(w.leads for w in waiting)
        due = sum(w.due for w in waiting)
        warn = settings.alerts.speed_to_lead_warn_min
        warn_s = None if warn is None else warn * 60.0
        if oldest is None:
            age = number(None, "—", since=None, deadline=None, warn_at=None)
        else:
            level = deadline_level(now, oldest.deadline_at, warn_s)
            age = number(
                now - oldest.received_at,
                clock_text(now - oldest.received_at),
                level.value,
                since=oldest.received_at,
                deadline=oldest.deadline_at,
                warn_at=None if warn_s is None else oldest.deadline_at - warn_s,
                lead_id=oldest.lead_id,
            )
        return {
            "waiting_total": number(total, str(total)),
            "waiting_due": number(due, str(due)),
            "oldest_new": age,
        }

    def _today_numbers(self, settings: Settings) -> Payload:
        report = self.today.report
        if report is None:
            return {}
        t = report.totals
        target = settings.reports.staffing_target_share
        return {
            "stl_median": number(t.speed_to_lead_median_s, clock_text(t.speed_to_lead_median_s)),
            "stl_p90": number(t.speed_to_lead_p90_s, clock_text(t.speed_to_lead_p90_s)),
            "stl_within": number(
                t.speed_to_lead_within_target,
                percent_text(t.speed_to_lead_within_target),
                share_level(t.speed_to_lead_within_target, target).value,
                target=percent_text(target),
                target_s=report.speed_to_lead_target_s,
            ),
            "answer_rate": number(t.answer_rate, percent_text(t.answer_rate)),
            "abandon_today": number(t.abandon_rate, percent_text(t.abandon_rate, 1)),
            "dead_air_median": number(t.dead_air_median_s, clock_text(t.dead_air_median_s)),
            "dead_air_p95": number(t.dead_air_p95_s, clock_text(t.dead_air_p95_s)),
            "attempts": number(t.attempts, str(t.attempts)),
            "conversations": number(t.conversations, str(t.conversations)),
            "confirmed": number(t.leads_confirmed, str(t.leads_confirmed)),
            "revenue": number(t.revenue, f"{t.revenue:.2f}"),
        }

    def _tiers(self, waiting: list[floor_store.Waiting]) -> list[Payload]:
        policy = self._policy()
        tiers: dict[str, list[int]] = {}
        order: dict[str, int] = {}
        for w in waiting:
            name = describe_rank(policy.campaign(w.campaign).scheme, w.rank)
            counts = tiers.setdefault(name, [0, 0])
            counts[0] += w.leads
            counts[1] += w.due
            order.setdefault(name, w.rank)
        ranked = sorted(tiers, key=lambda name: (order[name], name))
        return [{"tier": name, "waiting": tiers[name][0], "due": tiers[name][1]} for name in ranked]

    def _campaigns(self) -> list[Payload]:
        policy = self._policy()
        paces, paused = self._floor.paces(), self._floor.paused()
        out = []
        for name, campaign in policy.campaigns.items():
            pace = paces.get(name)
            ratio = pace.ratio if pace is not None else campaign.dial_ratio
            stats = self.today.abandon.get(name)
            rate = stats.rate if stats is not None and stats.answered else None
            applies = stats is not None
            pause = paused.get(name)
            out.append(
                {
                    "name": name,
                    "mode": campaign.mode.value,
                    "ratio": round(ratio, 2),
                    "ratio_text": "—" if campaign.mode is DialMode.AGENT_FIRST else f"{ratio:.2f}",
                    "pace_reason": pace.reason if pace is not None else None,
                    "abandon": rate,
                    "abandon_text": percent_text(rate, 1) if applies else "—",
                    "abandon_answered": stats.answered if stats is not None else None,
                    "cap_text": percent_text(campaign.abandon.cap, 1),
                    "window_days": campaign.abandon.window_days,
                    "abandon_rule": campaign.abandon.rule.value,
                    "level": cap_level(rate, campaign.abandon.cap).value,
                    "paused": pause is not None,
                    "paused_by": pause.paused_by if pause is not None else None,
                    "paused_at": pause.paused_at if pause is not None else None,
                }
            )
        return out

    def _operators(
        self,
        views: Iterable[tuple[OperatorView, float]],
        days_: Mapping[str, floor_store.OperatorToday],
        settings: Settings,
        now: float,
    ) -> list[Payload]:
        board = self._board()
        w = settings.console.wallboard
        limits = Limits(w.ringing_limit_s, w.talking_limit_s, w.wrapup_limit_s, w.paused_limit_s)
        rows = []
        for view, since in sorted(views, key=lambda item: item[0].name):
            operator = board.operators.get(view.name)
            call = operator.current if operator is not None else None
            group = settings.groups.get(operator.group) if operator is not None else None
            group_wrapup = max(  # Asterisk's wrapuptime, or the dialer's after-call work
                operator.group_wrapup_s if operator is not None else 0.0,
                group.after_call_work_s if group is not None else 0.0,
            )
            day = days_.get(view.name, floor_store.OperatorToday(0, 0, 0.0, 0, 0))
            rows.append(
                {
                    "name": view.name,
                    "presence": view.presence.value,
                    "since": since,
                    "pause_reason": view.pause_reason,
                    "wrapup_until": view.wrapup_until,
                    "overrun": overrun(view.presence.value, now - since, limits, group_wrapup),
                    "limit_s": _limit(view.presence.value, limits, group_wrapup),
                    "lead_id": call.lead_id if call is not None else None,
                    "call_since": call.since if call is not None else None,
                    "calls": day.calls,
                    "talk_s": round(day.talk_s, 1),
                    "talk": clock_text(day.talk_s),
                    "confirmed": day.confirmed,
                    "revenue": decimal_amount(day.revenue_minor) or "0.00",
                }
            )
        return rows


def _limit(presence: str, limits: Limits, group_wrapup: float) -> float | None:
    return {
        "ringing": limits.ringing_s,
        "talking": limits.talking_s,
        "wrapup": max(limits.wrapup_s, group_wrapup),
        "paused": limits.paused_s,
    }.get(presence)


def without_clock(payload: Payload) -> Payload:
    """The message minus what changes every second by itself: equal means nothing happened."""
    numbers = dict(payload.get("numbers", {}))
    oldest = dict(numbers.get("oldest_new", {}))
    oldest.pop("value", None)
    oldest.pop("text", None)
    numbers["oldest_new"] = oldest
    rows = [
        {k: v for k, v in row.items() if k != "overrun"} for row in payload.get("operators", [])
    ]
    return {**payload, "at": None, "numbers": numbers, "operators": rows}
