"""Missed inbound calls (R1): which callers become callback leads, and where they go.

About 30% of shoppers never call back a missed call, so dialerd does. Pure: the caller
number and the settings come in, a decision goes out.

- Not every "caller" is a customer: anonymous callers, short internal extensions (an
  operator's phone) and numbers that do not parse are ignored (and logged).
- Calls dialerd placed itself (their Uniqueid/Linkedid is a dialerd ChannelId) can wait
  in the same queue as inbound callers: a customer who hangs up there is an abandoned
  outbound call, recorded by its attempt, never a "missed call".
- A missed call is a new lead with a short speed-to-lead target
  (``missed_calls.callback_target_min``): its deadline puts it ahead of every new lead
  with more time left. A phone with an open lead is not a second lead: that lead is
  raised instead — due now, in the new-lead tier, with that same short deadline (or its
  own if earlier), and an agreed later callback is dropped (the customer wants us now).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from dialerd.policy.phones import InvalidPhone, Phone, parse_phone

OWN_CALL_PREFIX = "dialerd-"  # store.leads.new_call_ids: every ChannelId dialerd sets
MAX_EXTENSION_DIGITS = 6
_ANONYMOUS = frozenset({"", "<unknown>", "unknown", "anonymous", "restricted", "private", "s"})
_DIGITS = re.compile(r"^[0-9]+$")


class IgnoredCaller(ValueError):
    """Why this missed call does not become a lead."""


def caller_phone(raw: str, default_region: str) -> Phone:
    """The caller's number as E.164, or IgnoredCaller with the reason."""
    text = raw.strip()
    if text.lower() in _ANONYMOUS:
        raise IgnoredCaller("anonymous caller (no caller id)")
    if _DIGITS.match(text) and len(text) <= MAX_EXTENSION_DIGITS:
        raise IgnoredCaller(f"{text!r} is an internal extension, not a customer's number")
    try:
        return parse_phone(text, default_region)
    except InvalidPhone as exc:
        raise IgnoredCaller(f"caller id {text!r} {exc}") from None


def ignore_reason(
    *, enabled: bool, queue: str | None, watched: Collection[str], call_ids: Collection[str]
) -> str | None:
    """Why an event is not a customer's missed call at all, or None if it is one."""
    if not enabled:
        return "missed_calls.enabled is false"
    if any(call_id.startswith(OWN_CALL_PREFIX) for call_id in call_ids):
        return "a call dialerd placed itself (an abandoned outbound call)"
    if watched and queue is not None and queue not in watched:
        return f"queue {queue!r} is not in missed_calls.queues"
    return None
