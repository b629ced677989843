"""Missed inbound calls become callback leads (R1): intake's path for ``MissedInbound``.

Called by the engine's event consumer; the rules are ``dialerd.policy.missed``. First the
dialer's own calls are set apart (``DialerCall``): our customer who hung up waiting in the
queue is an abandoned outbound call, which its attempt records. Then one write
transaction: look up the phone's open lead, raise it or insert the new lead (closed at
once as ``dnc`` when the number is on the do-not-call list, and then its result goes to
the CRM outbox, as for any lead closed at intake).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dialerd.config import Settings
from dialerd.domain import CloseReason
from dialerd.pbx.events import MissedInbound
from dialerd.policy.missed import (
    DialerCall,
    IgnoredCaller,
    call_id_candidates,
    caller_phone,
    ignore_reason,
    placed_by_a_dialer,
)
from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.policy.window import deadline
from dialerd.store import leads as store
from dialerd.store import missed as missed_store
from dialerd.store.outbox import enqueue_result
from dialerd.store.sql import Store


@dataclass(frozen=True)
class NewMissedLead:
    lead_id: int
    closed_as: CloseReason | None


@dataclass(frozen=True)
class RaisedLead:
    lead_id: int
    being_dialed: bool  # the lead's attempt is in flight now: nothing to raise


MissedCallResult = NewMissedLead | RaisedLead


async def missed_call(
    db: Store, event: MissedInbound, settings: Settings, now: float, *, pbx: str | None = None
) -> MissedCallResult:
    """Take one missed call; nothing is stored for a call a dialer placed (DialerCall) or a
    caller who is not a customer or not watched (IgnoredCaller). ``pbx``: the PBX it came in
    on, kept with the new lead when the daemon drives several (its Uniqueid is that PBX's)."""
    call_ids = call_id_candidates(event.uniqueid, event.linkedid)
    if placed_by_a_dialer(call_ids) or await missed_store.is_attempt_call(db.conn, call_ids):
        raise DialerCall("a call dialerd placed (an abandoned outbound call)")
    config = settings.missed_calls
    why = ignore_reason(enabled=config.enabled, queue=event.queue, watched=config.queues)
    if why is not None:
        raise IgnoredCaller(why)
    phone = caller_phone(event.caller, settings.phones.default_region)
    campaign = config.campaign or settings.default_campaign
    target = timedelta(minutes=config.callback_target_min)
    due_by = deadline(datetime.fromtimestamp(now, UTC), settings.policy.window, target)
    async with db.transaction() as conn:
        found = await missed_store.open_lead(conn, phone.e164)
        if found is not None:
            lead_id, state = found
            if state == "dialing":
                return RaisedLead(lead_id, being_dialed=True)
            await missed_store.raise_lead(conn, lead_id, NEW_LEAD_RANK, due_by.timestamp(), now)
            return RaisedLead(lead_id, being_dialed=False)
        closed_as = CloseReason.DNC if await store.on_dnc(conn, phone.e164) else None
        queue = f" in queue {event.queue}" if event.queue else ""
        lead = store.NewLead(
            phone=phone,
            campaign=campaign,
            source="missed_call",
            comment=f"missed call ({event.reason}{queue})",
            metadata={
                "uniqueid": event.uniqueid,
                "queue": event.queue,
                "hold_s": event.hold_s,
                **({"pbx": pbx} if pbx is not None else {}),
            },
        )
        placement = store.Placement(
            rank=NEW_LEAD_RANK, deadline_at=due_by.timestamp(), closed_as=closed_as
        )
        lead_id = await store.insert_lead_in(conn, lead, now, placement)
        if closed_as is not None:
            await enqueue_result(conn, lead_id, now)
    return NewMissedLead(lead_id, closed_as)
