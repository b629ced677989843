"""An attempt's life in the store: claimed together with the pick, then the operator
rung (agent_first), the Originate sent, the answer, and the end: finished with the
policy's decision, or taken back when the customer was provably never dialed.

Every step is its own short write transaction on the single writer, committed before
the PBX is told anything, so a crash leaves an attempt 'dialing' (adopted at the next
start), never dialed twice.

An attempt costs at most six statements from its claim to its end: the pick, the attempt's
row (with the caller ID its Originate will show), the lead made 'dialing'; the answer while
the call is live (with the Originate's send time); the attempt's end (the send time again, for
a call never answered) and the lead's next state. The end does not read the lead: the claim's
view of it (``LeadAtClaim``) comes with the call, and the lead's write checks it still holds.

On SQLite the dial path's usual transactions (the claim, the answer, the end) run in one trip to the store's thread each (``Database.write_at_once``: the
per-call statements through aiosqlite were most of the daemon's CPU per call); a step that
needs the event loop (a result for the CRM's outbox) falls back to the general path. The
general path runs on either engine through ``sql``.

On PostgreSQL, where several daemons share the leads, a claim also writes the claiming
daemon's lease on the attempt (``Lease``) in the same transaction: who dials it, and until
when that daemon vouches for it (renewed by its heartbeat, ``daemons.py``).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dialerd.domain import CloseReason, FinishedCall, LeadAtClaim, LeadState
from dialerd.policy.phones import Phone
from dialerd.policy.pick import Defer, Dial, LeadView, Verdict
from dialerd.policy.retry import LeadUpdate
from dialerd.store import sql
from dialerd.store.db import Database
from dialerd.store.due import NEXT_DUE, CampaignFilter, due_leads, due_leads_at_once, next_due_at
from dialerd.store.outbox import enqueue_result
from dialerd.store.sql import Conn, Store

# (attempts, campaign, extra attempts granted beyond the cap) → the lead's next state
Decide = Callable[[int, str, int], LeadUpdate]


@dataclass(frozen=True)
class Claim:
    """A lead taken for dialing, with its attempt row already committed."""

    lead_id: int
    attempt_id: int
    attempt_number: int
    call_id: str
    action_id: str
    phone: Phone
    campaign: str
    extra_attempts: int = 0  # granted by a supervisor beyond the campaign's cap
    caller_id: str | None = None  # the number its Originate shows (None: dialing.caller_id)

    @property
    def lead(self) -> LeadAtClaim:
        """The lead as this claim left it: what the attempt's end decides on."""
        return LeadAtClaim(self.attempt_number, self.campaign, self.extra_attempts)


@dataclass(frozen=True)
class Lease:
    """The daemon that claims, and how long its claim holds without a heartbeat."""

    daemon_id: str
    seconds: float


class Settled(NamedTuple):
    """What ``finish_attempt`` read and decided inside its transaction."""

    campaign: str
    update: LeadUpdate


class AlreadyFinished(Exception):
    """The attempt was no longer 'dialing' when its end came to be written: another daemon
    took its call over and recorded it (its lease had run out), or it was recorded before.
    Its lead is left as that record left it: deciding on it again could reopen a lead that
    is closed, or put back a lead already due again."""

    def __init__(self, attempt_id: int) -> None:
        super().__init__(f"attempt {attempt_id} is no longer in flight: its end was recorded")
        self.attempt_id = attempt_id


# Due leads judged per rank in one query: one for the usual pick, more once the policy
# has deferred or closed some on the way (every row costs its DNC probes).
_PICK_BATCHES = (1, 8, 8, 32, 32, 128)


def new_call_ids(lead_id: int, attempt_number: int) -> tuple[str, str]:
    """ChannelId and ActionID: unique, and readable in Asterisk's logs."""
    token = secrets.token_hex(4)
    return f"dialerd-{lead_id}-{attempt_number}-{token}", f"orig-{lead_id}-{attempt_number}-{token}"


async def claim_next(
    db: Store,
    now: float,
    ranks: tuple[int, ...],
    judge: Callable[[LeadView], Verdict],
    *,
    only: CampaignFilter | None = None,
    mode_of: Callable[[str], str] | None = None,
    caller_of: Callable[[str], str | None] | None = None,
    lease: Lease | None = None,
    pbx: str = "",
    pbx_lines: int | None = None,
    next_due: Callable[[float | None], None] | None = None,
) -> Claim | None:
    """Pick the next lead the policy accepts and commit its attempt, in one write transaction.

    Leads the policy defers get their new due time, leads it closes are closed, on
    the way. The picked lead becomes 'dialing', so no other pick (in this process
    or after a restart) can take it until its attempt is finished. ``mode_of``: the
    dial mode stored with the attempt, by campaign (customer_first when not given);
    ``caller_of``: the caller ID number its Originate will show, by campaign (stored with
    the attempt, so a call adopted after a crash still counts for its number).
    ``lease`` (PostgreSQL): the claiming daemon's lease, written with the attempt.
    ``pbx``: the name of the PBX that will carry the call (adopted on it after a restart).
    ``pbx_lines`` (with ``lease``): that PBX's lines, counted over every daemon's calls.
    With a lease nothing is claimed while the daemon's own heartbeat is older than a lease
    (it slept through it, and its calls may be another's now: ``_may_claim``).
    ``next_due``: told the earliest due time of any waiting lead (None: none waits), for the
    dial loop's timer: when nothing is claimed, and on SQLite also after a claim (read in the
    same trip, after it: a lone new lead then costs the dial loop one trip, not a claim and a
    look that finds nothing). Not told: the dial loop must look again to know.
    """
    per_campaign = _PerCampaign(mode_of, caller_of, pbx, pbx_lines)
    if isinstance(db, Database) and lease is None:
        wants_due = next_due is not None
        try:
            found = await db.write_at_once(
                lambda conn: _claim_at_once(conn, now, ranks, judge, only, per_campaign, wants_due)
            )
        except _NeedsTheOutbox:
            pass  # the policy closes a lead on the way: the CRM must hear of it (below)
        else:
            if isinstance(found, _NothingDue):
                if next_due is not None:
                    next_due(found.at)
                return None
            if isinstance(found, _Claimed):
                if next_due is not None:
                    next_due(found.next_due)
                return found.claim
            return found
    async with db.transaction() as conn:
        claim = await _claim_in(conn, now, ranks, judge, only, per_campaign, lease)
    if claim is None and next_due is not None:
        next_due(await next_due_at(db))
    return claim


class _NothingDue(NamedTuple):
    """A one-trip claim that claimed nothing: the earliest due time of a waiting lead."""

    at: float | None


class _Claimed(NamedTuple):
    """A one-trip claim, and the earliest due time of a waiting lead after it."""

    claim: Claim
    next_due: float | None


@dataclass(frozen=True)
class _PerCampaign:
    """What the attempt row takes from the picked lead's campaign, and the PBX that will
    carry it (``claim_next``'s args)."""

    mode_of: Callable[[str], str] | None
    caller_of: Callable[[str], str | None] | None
    pbx: str
    pbx_lines: int | None = None


async def _claim_in(
    conn: Conn,
    now: float,
    ranks: tuple[int, ...],
    judge: Callable[[LeadView], Verdict],
    only: CampaignFilter | None,
    per_campaign: _PerCampaign,
    lease: Lease | None,
) -> Claim | None:
    """``claim_next``'s transaction through the seam (either engine).

    With a lease and a PBX line cap, ``_may_claim`` first; with a lease alone the daemon's
    heartbeat is checked by the claim's writes themselves (``_CLAIM_WRITES``), in the same
    transaction, a round trip less."""
    if lease is not None and per_campaign.pbx_lines is not None:
        await _may_claim(conn, lease, now, per_campaign)
    picked = None
    for per_rank in _PICK_BATCHES:
        batch = await due_leads(conn, now, ranks, per_rank, only, claim=True)
        for lead in batch:
            verdict = judge(lead)
            if isinstance(verdict, Dial):
                picked = lead
                break
            if isinstance(verdict, Defer):
                await sql.run(conn, _DEFER_LEAD, (verdict.until, now, lead.lead_id))
            else:
                await _close_in(conn, lead.lead_id, verdict.reason, now)
        if picked is not None or not batch:
            break
    if picked is None:
        return None
    row = _attempt_row(picked, now, per_campaign)
    if lease is not None:  # PostgreSQL: the attempt, its lease and the lead in one trip
        found = await sql.row(
            conn,
            _CLAIM_WRITES,
            (lease.daemon_id, now - lease.seconds, *row, picked.lead_id, lease.daemon_id,
             now + lease.seconds, *_dialing_row(picked, now)),
        )  # fmt: skip
        if found is None:  # nothing written: the daemon's heartbeat is older than a lease
            raise _stale(lease)
        return _claim_of(picked, int(found[0]), row)
    attempt_id = await sql.insert(conn, _INSERT_ATTEMPT, row)
    await sql.run(conn, _LEAD_DIALING, _dialing_row(picked, now))
    return _claim_of(picked, attempt_id, row)


class ClaimRefused(Exception):
    """Nothing may be claimed for this PBX now, due leads or not (``_may_claim``): the
    engine looks again shortly rather than at once."""


async def _may_claim(conn: Conn, lease: Lease, now: float, per_campaign: _PerCampaign) -> None:
    """On a shared store: ``ClaimRefused`` unless this daemon may claim for this PBX now.

    Not while its heartbeat is older than a lease: a daemon that was stopped or froze may
    run a claim before its heartbeat finds out, and another daemon may be following its
    calls. Not while the PBX's lines (``pbx_lines``) are all taken by the calls of every
    daemon: claims for one capped PBX take turns (a lock held to the commit), so two
    daemons cannot both take its last line; the count is one partial index's entries
    (``attempts_dialing_pbx``).
    """
    cap, name = per_campaign.pbx_lines, per_campaign.pbx
    found = await sql.row(
        conn,
        # leases exist on PostgreSQL only (``daemons.py``)
        "SELECT heartbeat_at, CASE WHEN CAST(? AS BIGINT) IS NULL THEN NULL"
        " ELSE pg_advisory_xact_lock(hashtext('dialerd.lines.' || ?)) END"
        " FROM daemons WHERE id = ?",
        (cap, name, lease.daemon_id),
    )
    if found is None or found[0] < now - lease.seconds:
        raise _stale(lease)
    if cap is None:
        return
    busy = await sql.row(
        conn, "SELECT COUNT(*) FROM attempts WHERE status = 'dialing' AND pbx = ?", (name,)
    )
    if busy is None or int(busy[0]) >= cap:
        raise ClaimRefused(f"PBX {name}: all {cap} lines taken by the daemons' calls")


def _stale(lease: Lease) -> ClaimRefused:
    return ClaimRefused(f"daemon {lease.daemon_id}: its heartbeat is older than a lease")


class _NeedsTheOutbox(Exception):
    """A transaction on the store's thread met a step that enqueues a result for the CRM
    (``outbox.enqueue_result``, written for the event loop): rolled back, done the usual way."""


_ATTEMPT_COLUMNS = (
    "attempts (lead_id, number, call_id, action_id, campaign, phone, mode, caller_id, status,"
    " created_at, pbx)"
)
_INSERT_ATTEMPT = f"INSERT INTO {_ATTEMPT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'dialing', ?, ?)"
_LEAD_DIALING = (
    "UPDATE leads SET state = 'dialing', attempts = ?, last_attempt_at = ?,"
    " first_attempt_at = COALESCE(first_attempt_at, ?), updated_at = ? WHERE id = ?"
)
_DEFER_LEAD = "UPDATE leads SET due_at = ?, updated_at = ? WHERE id = ?"
# A claim's writes on a shared store as one statement (PostgreSQL runs data-changing CTEs
# together, the foreign keys checked at its end): the attempt, the daemon's lease on it and
# the lead now dialing, written only while the daemon's heartbeat is younger than a lease
# (no row back: nothing written, the claim refused). One round trip instead of four: on
# loopback each costs both processes a socket send and a wake-up, more CPU than the SQL.
_CLAIM_WRITES = (
    "WITH vouched AS (SELECT id FROM daemons WHERE id = ? AND heartbeat_at >= ?),"
    f" attempt AS (INSERT INTO {_ATTEMPT_COLUMNS}"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'dialing', ?, ? FROM vouched RETURNING id),"
    " lease AS (INSERT INTO leases (attempt_id, lead_id, daemon_id, expires_at)"
    " SELECT id, ?, ?, ? FROM attempt),"
    " lead AS (" + _LEAD_DIALING + " AND EXISTS (SELECT 1 FROM attempt))"
    " SELECT id FROM attempt"
)
# _INSERT_ATTEMPT's values: lead, number, call id, action id, campaign, phone, mode, caller ID,
# now, PBX
_AttemptRow = tuple[int, int, str, str, str, str, str, str | None, float, str]


def _attempt_row(picked: LeadView, now: float, per_campaign: _PerCampaign) -> _AttemptRow:
    """The picked lead's next attempt, as both claim paths insert it."""
    number = picked.attempts + 1
    call_id, action_id = new_call_ids(picked.lead_id, number)
    campaign = picked.campaign
    mode = per_campaign.mode_of(campaign) if per_campaign.mode_of else "customer_first"
    caller_id = per_campaign.caller_of(campaign) if per_campaign.caller_of else None
    return (
        picked.lead_id, number, call_id, action_id, campaign, picked.phone, mode, caller_id, now,
        per_campaign.pbx,
    )  # fmt: skip


def _dialing_row(picked: LeadView, now: float) -> tuple[int, float, float, float, int]:
    return (picked.attempts + 1, now, now, now, picked.lead_id)


def _claim_of(picked: LeadView, attempt_id: int, row: _AttemptRow) -> Claim:
    _, number, call_id, action_id, _, _, _, caller_id, _, _ = row
    return Claim(
        lead_id=picked.lead_id,
        attempt_id=attempt_id,
        attempt_number=number,
        call_id=call_id,
        action_id=action_id,
        phone=Phone(picked.phone),
        campaign=picked.campaign,
        extra_attempts=picked.extra_attempts,
        caller_id=caller_id,
    )


def _claim_at_once(
    conn: sqlite3.Connection,
    now: float,
    ranks: tuple[int, ...],
    judge: Callable[[LeadView], Verdict],
    only: CampaignFilter | None,
    per_campaign: _PerCampaign,
    wants_due: bool = False,
) -> Claim | _Claimed | _NothingDue | None:
    """``claim_next``'s transaction on the store's thread, in one trip (the usual pick:
    leads dialed or deferred; a lead the policy closes sends it back the usual way).
    ``wants_due``: the answer comes with the next due time (after the deferrals and the
    claim)."""
    picked = None
    for per_rank in _PICK_BATCHES:
        batch = due_leads_at_once(conn, now, ranks, per_rank, only)
        for lead in batch:
            verdict = judge(lead)
            if isinstance(verdict, Dial):
                picked = lead
                break
            if isinstance(verdict, Defer):
                conn.execute(_DEFER_LEAD, (verdict.until, now, lead.lead_id))
            else:
                raise _NeedsTheOutbox
        if picked is not None or not batch:
            break
    if picked is None:
        return _NothingDue(conn.execute(NEXT_DUE).fetchone()[0]) if wants_due else None
    row = _attempt_row(picked, now, per_campaign)
    attempt_id = conn.execute(_INSERT_ATTEMPT, row).lastrowid
    assert attempt_id is not None
    conn.execute(_LEAD_DIALING, _dialing_row(picked, now))
    claim = _claim_of(picked, attempt_id, row)
    return _Claimed(claim, conn.execute(NEXT_DUE).fetchone()[0]) if wants_due else claim


async def _close_in(conn: Conn, lead_id: int, reason: CloseReason, now: float) -> None:
    closed = await sql.run(
        conn,
        "UPDATE leads SET state = 'closed', close_reason = ?, closed_at = ?, updated_at = ?"
        " WHERE id = ? AND state = 'waiting'",
        (reason.value, now, now, lead_id),
    )
    if closed:
        await enqueue_result(conn, lead_id, now)  # the CRM hears of it (exhausted, dnc)


async def set_operator(db: Store, attempt_id: int, operator: str) -> None:
    """Committed before the Originate rings the operator, so a restart knows who was rung."""
    async with db.transaction() as conn:
        await sql.run(conn, "UPDATE attempts SET operator = ? WHERE id = ?", (operator, attempt_id))


_ANSWERED = (
    "UPDATE attempts SET answered_at = ?, originated_at = COALESCE(?, originated_at)"
    " WHERE id = ? AND status = 'dialing'"
)


class Answer(NamedTuple):
    """A live attempt's customer answered: when, and when its Originate was written (None:
    by a previous run)."""

    attempt_id: int
    at: float
    originated_at: float | None


async def mark_answered(db: Store, answers: Sequence[Answer]) -> None:
    """The customer answered these live attempts: recorded now, so a daemon that dies before
    the call ends does not take an answered customer for unknown and call them again. The
    Originate's send time comes along (a call never answered has it with its end)."""
    rows = [(a.at, a.originated_at, a.attempt_id) for a in answers]
    await _write_many(db, _ANSWERED, rows)


async def _write_many(db: Store, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
    """One statement over several rows in one transaction: on SQLite in one trip to the
    store's thread, on PostgreSQL through the seam."""
    if isinstance(db, Database):
        await db.write_at_once(lambda conn: conn.executemany(statement, rows).rowcount)
        return
    async with db.transaction() as conn:
        await sql.run_many(conn, statement, rows)


async def unclaim(db: Store, claim: Claim, now: float) -> None:
    """Undo a claim whose Originate was provably never written (PBX not connected)."""
    await take_back(db, claim.attempt_id, claim.lead_id, now)


async def take_back(db: Store, attempt_id: int, lead_id: int, now: float) -> None:
    """Undo an attempt that provably never reached the customer: the lead is due again as it was.

    Used when nothing was sent, and when an agent_first operator did not answer (the
    dialplan dials the customer only after the operator has).
    """
    async with db.transaction() as conn:
        if not await sql.run(
            conn, "DELETE FROM attempts WHERE id = ? AND status = 'dialing'", (attempt_id,)
        ):  # and its lease (PostgreSQL), by the foreign key's cascade
            raise AlreadyFinished(attempt_id)
        await sql.run(
            conn,
            "UPDATE leads SET state = 'waiting', attempts = attempts - 1,"
            " first_attempt_at = (SELECT MIN(created_at) FROM attempts WHERE lead_id = leads.id),"
            " last_attempt_at = (SELECT MAX(created_at) FROM attempts WHERE lead_id = leads.id),"
            " updated_at = ? WHERE id = ? AND state = 'dialing'",
            (now, lead_id),
        )


async def finish_attempt(db: Store, call: FinishedCall, decide: Decide, now: float) -> Settled:
    """Record an attempt's outcome and the lead's next state in one write transaction.

    ``decide(attempts, campaign, extra)`` (the retry policy) runs inside it, on the lead as
    its claim left it (``call.lead_at_claim``): the lead's write goes through only if the
    lead still says so, else the lead is read and decided on afresh (a supervisor granted
    it attempts meanwhile; an attempt adopted after a restart, which has no claim), so
    nothing can change the lead between the decision and the write. An attempt no longer
    'dialing' raises ``AlreadyFinished`` and changes nothing.
    The usual end is one trip to the store's thread; a lead closed as exhausted (its result
    goes to the CRM's outbox) takes the usual path, as every end does on PostgreSQL (which
    also ends the attempt's lease there).
    """
    if isinstance(db, Database):
        try:
            return await db.write_at_once(lambda conn: _finish_at_once(conn, call, decide, now))
        except _NeedsTheOutbox:
            pass
    async with db.transaction() as conn:
        if not await sql.run(conn, _FINISH_ATTEMPT, _finished_attempt(call)):
            raise AlreadyFinished(call.attempt_id)
        if sql.engine_of(conn) == "postgresql":
            await sql.run(conn, "DELETE FROM leases WHERE attempt_id = ?", (call.attempt_id,))
        settled = None
        claimed = call.lead_at_claim
        if claimed is not None:
            update = decide(*_counts(claimed))
            row = _finished_lead(call, update, now) + _counts(claimed)
            if await sql.run(conn, _FINISH_LEAD_AS_CLAIMED, row):
                settled = Settled(claimed.campaign, update)
        if settled is None:
            attempts, campaign, extra = await _attempts_and_campaign(conn, call.lead_id)
            update = decide(attempts, campaign, extra)
            await sql.run(conn, _FINISH_LEAD, _finished_lead(call, update, now))
            settled = Settled(campaign, update)
        if settled.update.close_reason is CloseReason.EXHAUSTED:
            await enqueue_result(conn, call.lead_id, now)  # no operator's result will come
    return settled


class _NotAsClaimed(Exception):
    """One end of a group could not be written as its claim decided: the group's
    transaction is rolled back, and each end is written on its own (``finish_attempt``)."""


async def finish_as_claimed(
    db: Store, ends: Sequence[tuple[FinishedCall, LeadUpdate]], now: float
) -> bool:
    """Record several attempts' ends in one write transaction (one fsync): each with the
    lead's next state decided on the lead as its claim left it (``call.lead_at_claim``).

    Under load calls end in bursts, and a commit per end was most of the store's cost per
    call. All or nothing: False, and nothing written, when one of them cannot be written
    that way (its attempt no longer 'dialing', or its lead changed since the claim), and on
    PostgreSQL (whose ends also end their leases): the caller then writes each with
    ``finish_attempt``, which settles those cases. A decision that closes a lead as
    exhausted must not be in ``ends`` (its result goes to the CRM's outbox).
    """
    if not isinstance(db, Database):
        return False
    try:
        await db.write_at_once(lambda conn: _finish_all_at_once(conn, ends, now))
    except _NotAsClaimed:
        return False
    return True


def _finish_all_at_once(
    conn: sqlite3.Connection, ends: Sequence[tuple[FinishedCall, LeadUpdate]], now: float
) -> None:
    """``finish_as_claimed``'s transaction on the store's thread, in one trip."""
    for call, update in ends:
        claimed = call.lead_at_claim
        if claimed is None or update.close_reason is CloseReason.EXHAUSTED:
            raise _NotAsClaimed
        if not conn.execute(_FINISH_ATTEMPT, _finished_attempt(call)).rowcount:
            raise _NotAsClaimed
        row = _finished_lead(call, update, now) + _counts(claimed)
        if not conn.execute(_FINISH_LEAD_AS_CLAIMED, row).rowcount:
            raise _NotAsClaimed


_FINISH_ATTEMPT = (
    "UPDATE attempts SET status = 'done', outcome = ?, reason_code = ?, hangup_cause = ?,"
    " answered_at = ?, ended_at = ?, ring_s = ?, talk_s = ?, note = ?,"
    " originated_at = COALESCE(?, originated_at),"
    " operator = COALESCE(?, operator), operator_at = ?, recording_path = ?,"
    " amd_status = ?, amd_cause = ?"
    " WHERE id = ? AND status = 'dialing'"
)
_FINISH_LEAD = (
    "UPDATE leads SET state = ?, rank = ?, due_at = ?, last_outcome = ?, callback_at = NULL,"
    " reached = MAX(reached, ?), closed_at = ?, close_reason = ?, updated_at = ?"
    " WHERE id = ?"
)
# ... as the claim left it (``LeadAtClaim``): no row changed, the lead has changed since
_FINISH_LEAD_AS_CLAIMED = _FINISH_LEAD + " AND attempts = ? AND campaign = ? AND extra_attempts = ?"
_LEAD_COUNTS = "SELECT attempts, campaign, extra_attempts FROM leads WHERE id = ?"


def _finished_attempt(call: FinishedCall) -> tuple[object, ...]:
    return (
        call.outcome.value,
        call.reason_code,
        call.hangup_cause,
        call.answered_at,
        call.ended_at,
        call.ring_s,
        call.talk_s,
        call.note,
        call.originated_at,
        call.operator,
        call.operator_at,
        call.recording_path,
        call.amd_status,
        call.amd_cause,
        call.attempt_id,
    )


def _finished_lead(call: FinishedCall, update: LeadUpdate, now: float) -> tuple[object, ...]:
    closed = update.state is LeadState.CLOSED
    return (
        update.state.value,
        update.rank,
        update.due_at,
        call.outcome.value,
        1 if call.outcome.value == "answered" else 0,
        now if closed else None,
        update.close_reason.value if update.close_reason else None,
        now,
        call.lead_id,
    )


def _finish_at_once(
    conn: sqlite3.Connection, call: FinishedCall, decide: Decide, now: float
) -> Settled:
    """``finish_attempt``'s transaction on the store's thread, in one trip."""
    if not conn.execute(_FINISH_ATTEMPT, _finished_attempt(call)).rowcount:
        raise AlreadyFinished(call.attempt_id)
    claimed = call.lead_at_claim
    if claimed is not None:
        update = decide(*_counts(claimed))
        if update.close_reason is CloseReason.EXHAUSTED:
            raise _NeedsTheOutbox
        row = _finished_lead(call, update, now) + _counts(claimed)
        if conn.execute(_FINISH_LEAD_AS_CLAIMED, row).rowcount:
            return Settled(claimed.campaign, update)
    found = conn.execute(_LEAD_COUNTS, (call.lead_id,)).fetchone()
    if found is None:
        raise LookupError(f"lead {call.lead_id} does not exist: its attempt cannot be finished")
    update = decide(int(found[0]), str(found[1]), int(found[2]))
    if update.close_reason is CloseReason.EXHAUSTED:
        raise _NeedsTheOutbox
    conn.execute(_FINISH_LEAD, _finished_lead(call, update, now))
    return Settled(str(found[1]), update)


def _counts(claimed: LeadAtClaim) -> tuple[int, str, int]:
    return claimed.attempts, claimed.campaign, claimed.extra_attempts


async def _attempts_and_campaign(conn: Conn, lead_id: int) -> tuple[int, str, int]:
    """How many attempts the lead has had (the one ending included), its campaign, and the
    attempts a supervisor granted it beyond the campaign's cap."""
    row = await sql.row(conn, _LEAD_COUNTS, (lead_id,))
    if row is None:
        raise LookupError(f"lead {lead_id} does not exist: its attempt cannot be finished")
    return int(row[0]), str(row[1]), int(row[2])
