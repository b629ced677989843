"""What is worth telling the owner at once (R10), and the cause each alert is about.

Pure: the monitor passes rows and ``now``. Every alert names its causes (keys such as
``complaint:<result key>`` or ``stl_missed:<lead id>``); the store raises an alert only
for causes it has not seen, so an alert is sent once per cause, never in a storm, and a
restart does not repeat it. Causes that can recur (AMI down, CRM backlog) are cleared
when they end, which re-arms them and sends one "back to normal" alert.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dialerd.formats import alert_time
from dialerd.policy.caller_id import Suspect
from dialerd.policy.score import is_detractor

LIST_AT_MOST = 20  # leads named in one grouped alert; the rest are counted


class Kind(StrEnum):
    COMPLAINT = "complaint"
    BIG_ORDER = "big_order"
    SPEED_TO_LEAD_WARNING = "speed_to_lead_warning"
    SPEED_TO_LEAD_MISSED = "speed_to_lead_missed"
    AMI_DOWN = "ami_down"
    AMI_RESTORED = "ami_restored"
    CRM_BACKLOG = "crm_backlog"
    CRM_BACKLOG_CLEARED = "crm_backlog_cleared"
    STORE_FULL = "store_full"
    STORE_RESTORED = "store_restored"
    DETRACTOR = "detractor"
    NO_OPERATORS = "no_operators"
    DEAD_AIR = "dead_air"
    DEAD_AIR_CLEARED = "dead_air_cleared"
    CALLER_ID_SPAM = "caller_id_spam"


AMI_DOWN_CAUSE = "ami_down"
CRM_BACKLOG_CAUSE = "crm_backlog"
NO_OPERATORS_CAUSE = "no_operators"
DEAD_AIR_CAUSE = "dead_air"
DEAD_AIR_WINDOW_S = 30 * 60.0  # the answered calls the dead-air median is taken over
DEAD_AIR_MIN_CALLS = 5  # fewer than this in the window: too few to judge
CALLER_ID_WINDOW_S = 24 * 3600.0  # the attempts each caller ID's answer rate is taken over


@dataclass(frozen=True)
class Alert:
    kind: Kind
    subject: str
    text: str
    causes: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    """What is worth an alert, in the policy's units (money in minor units, times in seconds);
    ``dialerd.config.rules.alert_rules`` builds it from the ``alerts`` section. None: off."""

    complaint: bool = True
    big_order_minor: int | None = None
    warn_s: float | None = 180.0
    missed: bool = True
    ami_down_s: float | None = 60.0
    crm_backlog: int | None = 100
    detractor: bool = True  # a post-call survey's NPS answer of 0-6
    no_operators: bool = True
    dead_air_s: float | None = 5.0
    caller_id_share: float | None = 0.5
    caller_id_min_attempts: int = 30


# --- results (from the CRM outbox) -----------------------------------------------------------


def result_alerts(message: Mapping[str, Any], rules: Rules) -> list[Alert]:
    """A complaint, or a confirmed order of at least the threshold, in one result message."""
    found = []
    key, lead = message["idempotency_key"], message["lead"]
    who = f"lead {lead['id']} {lead['phone']}" + (f" ({lead['name']})" if lead["name"] else "")
    order = f", order {message['order_id']}" if message["order_id"] else ""
    details = {
        "lead_id": lead["id"],
        "phone": lead["phone"],
        "order_id": message["order_id"],
        "operator": message["operator"],
        "call_id": message["call_id"],
        "note": message["note"],
    }
    if rules.complaint and message["result"] == "complaint":
        note = f": {message['note']}" if message["note"] else ""
        found.append(
            Alert(
                Kind.COMPLAINT,
                f"Complaint from {lead['phone']}",
                f"Operator {message['operator'] or '?'} recorded a complaint for {who}{order}{note}",
                (f"complaint:{key}",),
                details,
            )
        )
    amount = message["amount_minor"]
    if (
        rules.big_order_minor is not None
        and message["result"] == "confirmed"
        and amount is not None
        and amount >= rules.big_order_minor
    ):
        found.append(
            Alert(
                Kind.BIG_ORDER,
                f"Big order confirmed: {message['amount']}",
                f"{who}{order} confirmed an order of {message['amount']}"
                f" (operator {message['operator'] or '?'})",
                (f"big_order:{key}",),
                {**details, "amount": message["amount"]},
            )
        )
    return found


# --- the customer's score ---------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyedCall:
    """A stored post-call survey answer (``survey_answers``) and who the customer talked to."""

    attempt_id: int
    lead_id: int
    phone: str
    campaign: str
    operator: str | None
    nps: int | None
    csat: int | None


def detractor_alert(answer: SurveyedCall, rules: Rules) -> Alert | None:
    """A customer who answered 0-6 to "would you recommend us": worth a call back today."""
    if not rules.detractor or answer.nps is None or not is_detractor(answer.nps):
        return None
    csat = f", satisfaction {answer.csat} of 5" if answer.csat is not None else ""
    return Alert(
        Kind.DETRACTOR,
        f"Detractor: {answer.phone} answered {answer.nps} of 10",
        f"Lead {answer.lead_id} {answer.phone} ({answer.campaign}) would recommend us"
        f" {answer.nps} of 10{csat} after talking to operator {answer.operator or '?'}",
        (f"detractor:{answer.attempt_id}",),
        {
            "lead_id": answer.lead_id,
            "phone": answer.phone,
            "campaign": answer.campaign,
            "operator": answer.operator,
            "nps": answer.nps,
            "csat": answer.csat,
        },
    )


# --- speed to lead -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingNewLead:
    """A never-dialed waiting lead near or past its speed-to-lead deadline."""

    lead_id: int
    phone: str
    source: str
    deadline_at: float
    warned: bool  # its warning cause is already recorded


def speed_to_lead_alerts(leads: Sequence[WaitingNewLead], now: float, rules: Rules) -> list[Alert]:
    """At most two grouped alerts: leads about to miss their deadline, and leads that missed it.

    A lead already past its deadline gets no warning (its missed cause covers both).
    """
    warn = [
        lead
        for lead in leads
        if rules.warn_s is not None
        and not lead.warned
        and now < lead.deadline_at <= now + rules.warn_s
    ]
    missed = [lead for lead in leads if rules.missed and lead.deadline_at <= now]
    found = []
    if warn:
        found.append(
            Alert(
                Kind.SPEED_TO_LEAD_WARNING,
                f"{len(warn)} lead(s) about to miss the speed-to-lead target",
                "Never dialed, deadline in less than "
                f"{(rules.warn_s or 0) / 60:g} min:\n" + _lead_lines(warn),
                tuple(f"stl_warn:{lead.lead_id}" for lead in warn),
                {"leads": [_lead_json(lead) for lead in warn]},
            )
        )
    if missed:
        found.append(
            Alert(
                Kind.SPEED_TO_LEAD_MISSED,
                f"{len(missed)} lead(s) missed the speed-to-lead target",
                "Deadline passed before the first attempt:\n" + _lead_lines(missed),
                tuple(
                    key
                    for lead in missed
                    for key in (f"stl_missed:{lead.lead_id}", f"stl_warn:{lead.lead_id}")
                ),
                {"leads": [_lead_json(lead) for lead in missed]},
            )
        )
    return found


def next_speed_to_lead_check(
    next_deadline: float | None, next_deadline_beyond_warn: float | None, rules: Rules
) -> float | None:
    """When a waiting lead next crosses a threshold: the nearest future deadline (missed),
    or the warning time of the nearest deadline not yet inside the warning window."""
    times = []
    if rules.missed and next_deadline is not None:
        times.append(next_deadline)
    if rules.warn_s is not None and next_deadline_beyond_warn is not None:
        times.append(next_deadline_beyond_warn - rules.warn_s)
    return min(times, default=None)


# --- nobody signed in -------------------------------------------------------------------------


def no_operators_alert(
    away_since: float, now: float, missed: Sequence[WaitingNewLead], count: int
) -> Alert:
    """Leads are past their speed-to-lead deadline and nobody can be dialed: no operator is
    signed in (all logged out or paused) since ``away_since``. One per spell: the cause is
    cleared when someone signs in again. ``missed``: the first leads, ``count``: all."""
    listed = min(len(missed), LIST_AT_MOST)
    more = f"\n  ... and {count - listed} more" if count > listed else ""
    return Alert(
        Kind.NO_OPERATORS,
        f"No operator signed in: {count} lead(s) past the speed-to-lead target",
        f"No operator has been signed in (all logged out or paused) since"
        f" {alert_time(away_since)}, so no customer is being dialed. Waiting past their"
        " deadline:\n" + _lead_lines(missed[:LIST_AT_MOST]) + more,
        (NO_OPERATORS_CAUSE,),
        {
            "away_since": alert_time(away_since),
            "past_deadline": count,
            "leads": [_lead_json(lead) for lead in missed[:LIST_AT_MOST]],
        },
    )


# --- answer to operator ----------------------------------------------------------------------


def dead_air_change(
    waits: Sequence[float], threshold: float | None, active: bool
) -> Backlog | None:
    """Raise when the median wait from a customer's answer to an operator, over the answered
    customer-first calls of the last ``DEAD_AIR_WINDOW_S``, passes ``threshold``; clear
    when it is back at or under it. Fewer than ``DEAD_AIR_MIN_CALLS`` calls: no change."""
    if threshold is None:
        return Backlog.CLEAR if active else None
    if len(waits) < DEAD_AIR_MIN_CALLS:
        return None
    median = statistics.median(waits)
    if not active and median > threshold:
        return Backlog.RAISE
    if active and median <= threshold:
        return Backlog.CLEAR
    return None


def dead_air_alert(waits: Sequence[float], threshold: float) -> Alert:
    median = statistics.median(waits)
    return Alert(
        Kind.DEAD_AIR,
        f"Customers wait {median:.1f} s for an operator after answering",
        f"Over the last {DEAD_AIR_WINDOW_S / 60:g} min, {len(waits)} answered calls waited a"
        f" median {median:.1f} s from the customer's answer to an operator (threshold"
        f" {threshold:g} s). Too few operators for the pace, or a ratio set too high.",
        (DEAD_AIR_CAUSE,),
        {"median_s": round(median, 2), "calls": len(waits), "threshold_s": threshold},
    )


def dead_air_cleared_alert(waits: Sequence[float], raised_at: float) -> Alert:
    median = statistics.median(waits) if waits else 0.0
    return Alert(
        Kind.DEAD_AIR_CLEARED,
        "Customers reach an operator quickly again",
        f"The median wait from answer to operator is {median:.1f} s again.",
        (f"dead_air_cleared:{raised_at!r}",),
        {"median_s": round(median, 2), "calls": len(waits)},
    )


# --- caller ID health --------------------------------------------------------------------------


CALLER_ID_CAUSES = "caller_id_spam:"  # the prefix of every caller ID's cause


def caller_id_cause(campaign: str, number: str) -> str:
    return f"{CALLER_ID_CAUSES}{campaign}:{number}"


def caller_id_spam_alert(suspect: Suspect, share: float) -> Alert:
    n = suspect.number
    return Alert(
        Kind.CALLER_ID_SPAM,
        f"Caller ID {n.caller_id} answered far less often than its campaign's others",
        f"Campaign {n.campaign}: {n.caller_id} was answered on {suspect.rate:.0%} of its"
        f" {n.attempts} calls of the last {CALLER_ID_WINDOW_S / 3600:g} h, the campaign's"
        f" other numbers on {suspect.others_rate:.0%} (alert below {share:.0%} of theirs)."
        " Carriers may label it spam: check it with them, or take it out of caller_ids.",
        (caller_id_cause(n.campaign, n.caller_id),),
        {
            "campaign": n.campaign,
            "caller_id": n.caller_id,
            "attempts": n.attempts,
            "answer_rate": round(suspect.rate, 4),
            "others_answer_rate": round(suspect.others_rate, 4),
        },
    )


# --- AMI link, CRM backlog ----------------------------------------------------------------------


def ami_down_alert(down_since: float, now: float, why: str) -> Alert:
    minutes = (now - down_since) / 60
    return Alert(
        Kind.AMI_DOWN,
        "Asterisk (AMI) unreachable",
        f"The AMI link to Asterisk is down since {alert_time(down_since)}"
        f" ({minutes:.1f} min): {why}. No calls are being placed.",
        (AMI_DOWN_CAUSE,),
        {"down_since": alert_time(down_since), "why": why},
    )


def ami_restored_alert(raised_at: float, now: float) -> Alert:
    return Alert(
        Kind.AMI_RESTORED,
        "Asterisk (AMI) reachable again",
        f"The AMI link is back at {alert_time(now)}; dialing resumes.",
        (f"ami_restored:{raised_at!r}",),
        {"restored_at": alert_time(now)},
    )


def store_full_alert(error: str, since: float) -> Alert:
    """Sent straight to the channels, not queued: the queue is in the store that is full."""
    return Alert(
        Kind.STORE_FULL,
        "dialerd's store cannot be written: dialing stopped",
        f"Since {alert_time(since)} the store refuses writes ({error}). No new call is placed"
        " until it can record them again; calls in flight are followed and recorded once it"
        " can. On SQLite, free disk space where store.path lives; on PostgreSQL, check the"
        " server store.url names (running, reachable, its disk).",
        ("store_full",),
        {"since": alert_time(since), "error": error},
    )


def store_restored_alert(since: float, now: float) -> Alert:
    return Alert(
        Kind.STORE_RESTORED,
        "dialerd's store is writable again: dialing resumed",
        f"The store takes writes again at {alert_time(now)}"
        f" (it refused them from {alert_time(since)}).",
        (f"store_restored:{since!r}",),
        {"since": alert_time(since), "restored_at": alert_time(now)},
    )


class Backlog(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"


def backlog_change(pending: int, threshold: int | None, active: bool) -> Backlog | None:
    """Raise above the threshold; clear only at half of it, so a queue hovering around the
    threshold does not alert on every message."""
    if threshold is None:
        return Backlog.CLEAR if active else None
    if not active and pending > threshold:
        return Backlog.RAISE
    if active and pending <= threshold // 2:
        return Backlog.CLEAR
    return None


def backlog_alert(pending: int, threshold: int) -> Alert:
    return Alert(
        Kind.CRM_BACKLOG,
        f"CRM backlog: {pending} results waiting",
        f"{pending} results wait for the CRM webhook (threshold {threshold}); the CRM may be"
        " down or refusing them. See `dialerd outbox list`.",
        (CRM_BACKLOG_CAUSE,),
        {"pending": pending, "threshold": threshold},
    )


def backlog_cleared_alert(pending: int, raised_at: float) -> Alert:
    return Alert(
        Kind.CRM_BACKLOG_CLEARED,
        "CRM backlog drained",
        f"Only {pending} results wait for the CRM webhook now.",
        (f"crm_backlog_cleared:{raised_at!r}",),
        {"pending": pending},
    )


def _lead_lines(leads: Sequence[WaitingNewLead]) -> str:
    lines = [
        f"  lead {lead.lead_id} {lead.phone} ({lead.source}),"
        f" deadline {alert_time(lead.deadline_at)}"
        for lead in leads[:LIST_AT_MOST]
    ]
    if len(leads) > LIST_AT_MOST:
        lines.append(f"  ... and {len(leads) - LIST_AT_MOST} more")
    return "\n".join(lines)


def _lead_json(lead: WaitingNewLead) -> dict[str, Any]:
    return {
        "lead_id": lead.lead_id,
        "phone": lead.phone,
        "source": lead.source,
        "deadline_at": alert_time(lead.deadline_at),
    }
