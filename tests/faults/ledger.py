"""The ledger: the store's account of the calls against Asterisk's (``CallWatch``).

Run at the end of each fault loop, once the store has settled. Every rule below is a way
the daemon can be wrong about a customer after a fault; each finding names its call,
number and reason. The loop asserts there are none.

What counts as an attempt: a row of ``attempts`` that is still 'dialing' or has an
outcome. A row 'done' without an outcome is not an attempt (one way to record an
Originate Asterisk refused; deleting the row is the other) -- and a lead's ``attempts``
must equal the attempts it has.

Rules (Asterisk's side first):
Asterisk's account is the watch's, completed by Asterisk's full log (``log``): a call that
started and ended while the watch was logging in again (after an Asterisk restart the daemon
may dial first) is in the log only; it counts as a channel, unwitnessed (nothing about its
answer or end can be compared).

1. ``channel without attempt``: a customer channel whose Uniqueid is no attempt's call_id
   (or the call_id of a row that is not an attempt, or of another number's attempt).
2. ``attempt without channel``: an attempt Asterisk never had a channel for. Tolerated
   only for an ``unknown`` attempt with no send time (``originated_at`` NULL): a daemon
   killed between committing the attempt and writing the Originate cannot know it never
   dialed, and nothing was dialed. (The send time is stored with the answer or with the
   attempt's end, so every unanswered attempt a killed daemon left has none: this rule
   cannot tell those apart.)
3. ``dialed N times, M attempts``: a number with more channels than attempts.
4. ``answered customer redialed``: a channel for a number after a channel of that number
   was answered (the policy closes an answered lead: ``retry_delays.answered`` unset).
5. ``left dialing`` / ``left unknown``: an attempt still 'dialing', or settled 'unknown',
   although Asterisk's account has the call's end.
6. ``outcome X, Asterisk: answered`` and ``outcome answered, Asterisk: not answered``.
7. ``talk_s``: an answered attempt without talk time, or one off by more than
   ``talk_tolerance_s`` from answer-to-hangup at Asterisk (where Asterisk's end was seen).
8. ``outcome X, Asterisk cause C``: a clear cause (17 busy, 19 no answer, 34 congestion,
   1 unallocated) recorded as another non-answer outcome.
Store consistency (nothing half-written):
9. a lead 'dialing' without a 'dialing' attempt, or an attempt 'dialing' whose lead is not;
   a lead whose ``attempts`` differs from its attempt rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.callwatch import CallWatch, CustomerCall, calls_in_log

ANSWERED_OUTCOMES = frozenset({"answered", "abandoned"})
CAUSE_OUTCOMES = {17: {"busy"}, 19: {"no_answer"}, 34: {"congestion"}, 1: {"failed"}}


@dataclass(frozen=True)
class Disagreement:
    reason: str
    number: str | None = None
    call_id: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = " ".join(x for x in (self.number, self.call_id) if x)
        return f"{self.reason} [{where}]" + (f": {self.detail}" if self.detail else "")


@dataclass
class Ledger:
    attempts: int
    channels: int
    disagreements: list[Disagreement] = field(default_factory=list)
    unwitnessed: int = 0  # channels only Asterisk's log shows (the watch was reconnecting)

    def by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for item in self.disagreements:
            counts[item.reason] += 1
        return dict(counts)

    def report(self, limit: int = 30) -> str:
        lines = [f"{len(self.disagreements)} disagreements: {self.by_reason()}"]
        lines += [f"  {item}" for item in self.disagreements[:limit]]
        if len(self.disagreements) > limit:
            lines.append(f"  ... and {len(self.disagreements) - limit} more")
        return "\n".join(lines)


def _rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


def counted(attempt: dict[str, Any]) -> bool:
    """An attempt proper (see the module docstring), not a refused Originate's trace."""
    return attempt["status"] == "dialing" or attempt["outcome"] is not None


@dataclass
class _Accounts:
    """Both accounts, indexed for the rules."""

    attempts: list[dict[str, Any]]  # every row, attempts proper or not
    leads: list[dict[str, Any]]
    calls: dict[str, CustomerCall]  # by call_id
    logged: dict[str, str]  # call_id -> number, channels the watch missed (Asterisk's log)

    @property
    def real(self) -> list[dict[str, Any]]:
        return [a for a in self.attempts if counted(a)]

    def per_number(self) -> dict[str, list[CustomerCall]]:
        found: dict[str, list[CustomerCall]] = defaultdict(list)
        for call in sorted(self.calls.values(), key=lambda c: c.created_at):
            found[call.number].append(call)
        return found

    def channels_per_number(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for call in self.calls.values():
            counts[call.number] += 1
        for number in self.logged.values():
            counts[number] += 1
        return counts


Found = list[Disagreement]


def compare(
    db: Path,
    watch: CallWatch,
    *,
    talk_tolerance_s: float = 1.5,
    redial_answered: bool = False,
    only: set[str] | None = None,
    log: Path | None = None,
) -> Ledger:
    """The findings; ``only``: just these numbers (digits), e.g. one loop's leads; ``log``:
    Asterisk's full log, for calls the watch missed."""
    accounts = _Accounts(
        attempts=_rows(
            db,
            "SELECT id, lead_id, number, call_id, phone, status, outcome, originated_at,"
            " answered_at, ended_at, talk_s, hangup_cause, note FROM attempts ORDER BY id",
        ),
        leads=_rows(db, "SELECT id, phone, state, attempts FROM leads ORDER BY id"),
        calls=dict(watch.calls),
        logged={},
    )
    if log is not None:
        logged = calls_in_log(log)
        accounts.logged = {k: n for k, n in logged.items() if k not in accounts.calls}
    if only is not None:
        accounts.attempts = [a for a in accounts.attempts if _digits(a["phone"]) in only]
        accounts.leads = [lead for lead in accounts.leads if _digits(lead["phone"]) in only]
        accounts.calls = {k: c for k, c in accounts.calls.items() if c.number in only}
        accounts.logged = {k: n for k, n in accounts.logged.items() if n in only}
    found: Found = []
    _channels_are_attempts(accounts, found)
    _attempts_are_channels(accounts, found)
    _dialed_no_more_than_attempts(accounts, found)
    if not redial_answered:
        _answered_not_redialed(accounts, found)
    for attempt in accounts.real:
        call = accounts.calls.get(attempt["call_id"])
        if call is not None:
            _attempt_matches_call(attempt, call, talk_tolerance_s, found)
    _store_consistent(accounts, found)
    return Ledger(
        attempts=len(accounts.real),
        channels=len(accounts.calls) + len(accounts.logged),
        disagreements=found,
        unwitnessed=len(accounts.logged),
    )


def _channels_are_attempts(accounts: _Accounts, found: Found) -> None:
    """Rule 1."""
    by_call_id = {a["call_id"]: a for a in accounts.attempts}
    channels = [(c.call_id, c.number, _seen(c)) for c in accounts.calls.values()]
    channels += [(k, n, "in Asterisk's log only") for k, n in accounts.logged.items()]
    for call_id, number, seen in channels:
        attempt = by_call_id.get(call_id)
        if attempt is None:
            found.append(Disagreement("channel without attempt", number, call_id, seen))
        elif not counted(attempt):
            found.append(Disagreement("channel of a non-attempt", number, call_id, _said(attempt)))
        elif _digits(attempt["phone"]) != number:
            found.append(
                Disagreement("channel dialed another number", number, call_id, attempt["phone"])
            )


def _attempts_are_channels(accounts: _Accounts, found: Found) -> None:
    """Rule 2."""
    for attempt in accounts.real:
        if attempt["call_id"] in accounts.calls or attempt["call_id"] in accounts.logged:
            continue
        if attempt["outcome"] == "unknown" and attempt["originated_at"] is None:
            continue  # killed between commit and Originate: nothing dialed, nothing known
        found.append(
            Disagreement(
                "attempt without channel",
                _digits(attempt["phone"]),
                attempt["call_id"],
                _said(attempt),
            )
        )


def _dialed_no_more_than_attempts(accounts: _Accounts, found: Found) -> None:
    """Rule 3."""
    attempts: dict[str, int] = defaultdict(int)
    for attempt in accounts.real:
        attempts[_digits(attempt["phone"])] += 1
    for number, channels in accounts.channels_per_number().items():
        if channels > attempts.get(number, 0):
            found.append(
                Disagreement(
                    "dialed more often than the store's attempts",
                    number,
                    None,
                    f"{channels} channels, {attempts.get(number, 0)} attempts",
                )
            )


def _answered_not_redialed(accounts: _Accounts, found: Found) -> None:
    """Rule 4."""
    for number, seen in accounts.per_number().items():
        answered = [c for c in seen if c.answered]
        if not answered:
            continue
        first = answered[0]
        for call in (c for c in seen if c.created_at > first.created_at):
            found.append(
                Disagreement(
                    "answered customer redialed",
                    number,
                    call.call_id,
                    f"answered in {first.call_id}, dialed again"
                    f" {call.created_at - first.created_at:.1f} s later",
                )
            )


def _attempt_matches_call(
    attempt: dict[str, Any], call: CustomerCall, talk_tolerance_s: float, found: Found
) -> None:
    """Rules 5-8."""
    number, call_id, outcome = call.number, call.call_id, attempt["outcome"]

    def add(reason: str, detail: str = "") -> None:
        found.append(Disagreement(reason, number, call_id, detail))

    if attempt["status"] == "dialing" or outcome == "unknown":
        if call.ended:
            left = "left dialing" if attempt["status"] == "dialing" else "left unknown"
            add(left, f"Asterisk: {_seen(call)}; {_said(attempt)}")
        return
    stored_answered = outcome in ANSWERED_OUTCOMES
    if call.answered != stored_answered:
        said = "answered" if call.answered else "not answered"
        add(f"outcome {outcome}, Asterisk: {said}", _seen(call))
    elif stored_answered:
        observed = call.talk_s
        if attempt["talk_s"] is None:
            add("answered attempt without talk_s", _seen(call))
        elif observed is not None and abs(attempt["talk_s"] - observed) > talk_tolerance_s:
            add("talk_s disagrees", f"store {attempt['talk_s']:.1f} s, Asterisk {observed:.1f} s")
    elif call.end_seen and call.cause in CAUSE_OUTCOMES:
        if outcome not in CAUSE_OUTCOMES[call.cause]:
            add(f"outcome {outcome}, Asterisk cause {call.cause}")


def _store_consistent(accounts: _Accounts, found: Found) -> None:
    """Rule 9."""
    dialing = {a["lead_id"] for a in accounts.attempts if a["status"] == "dialing"}
    per_lead: dict[int, int] = defaultdict(int)
    for attempt in accounts.real:
        per_lead[attempt["lead_id"]] += 1
    for lead in accounts.leads:
        number, where = _digits(lead["phone"]), f"lead {lead['id']}"
        if lead["state"] == "dialing" and lead["id"] not in dialing:
            found.append(
                Disagreement("lead dialing without a dialing attempt", number, None, where)
            )
        if lead["state"] != "dialing" and lead["id"] in dialing:
            found.append(
                Disagreement(f"attempt dialing, lead {lead['state']}", number, None, where)
            )
        if lead["attempts"] != per_lead.get(lead["id"], 0):
            found.append(
                Disagreement(
                    "lead's attempts differ from its attempt rows",
                    number,
                    None,
                    f"{where}: attempts={lead['attempts']}, rows={per_lead.get(lead['id'], 0)}",
                )
            )


def _digits(phone: str) -> str:
    return phone.lstrip("+")


def _seen(call: CustomerCall) -> str:
    parts = [
        f"answered after {call.answered_at - call.created_at:.1f} s"
        if call.answered
        else "not answered"
    ]
    if call.ended and call.end_seen:
        parts.append(f"hung up after {call.ended_at - call.created_at:.1f} s, cause {call.cause}")  # type: ignore[operator]
    elif call.ended:
        parts.append("ended unseen (Asterisk went away)")
    else:
        parts.append("still up")
    if call.talk_s is not None:
        parts.append(f"talked {call.talk_s:.1f} s")
    return ", ".join(parts)


def _said(attempt: dict[str, Any]) -> str:
    talk = attempt["talk_s"]
    return (
        f"store: {attempt['status']}/{attempt['outcome']}"
        + (f", talk {talk:.1f} s" if talk is not None else "")
        + (f", note {attempt['note']!r}" if attempt["note"] else "")
    )
