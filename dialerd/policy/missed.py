"""Missed inbound calls (R1): which callers become callback leads, and where they go.

About 30% of shoppers never call back a missed call, so dialerd does. Pure: the caller
number and the settings come in, a decision goes out.

- Not every "caller" is a customer: anonymous callers, short internal extensions (an
  operator's phone) and numbers that do not parse are ignored (and logged).
- Calls dialerd placed itself can wait in the same queue as inbound callers (customer_first,
  predictive): a customer who hangs up there is an abandoned outbound call, recorded by its
  attempt (outcome ``abandoned``), never a "missed call", and not worth a log line either.
  They are known by their ids: the originated channel's Uniqueid and Linkedid are the
  attempt's ``call_id`` (the ChannelId dialerd set), a Local channel's ``;2`` half is
  ``<call_id>;2``; the store knows this daemon's call ids, and the ``dialerd-`` prefix also
  gives away another dialerd's calls on the same Asterisk.
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


class DialerCall(IgnoredCaller):
    """Not a missed call at all: a customer of a call a dialer placed hung up in the queue.

    Its own type so that it is dropped quietly where an ignored caller is logged; an
    IgnoredCaller all the same, so code that knows only that one still stores nothing.
    """


def call_id_candidates(uniqueid: str, linkedid: str) -> tuple[str, ...]:
    """The attempt ``call_id`` values an event's channel may carry (see the module doc)."""
    return tuple(dict.fromkeys((uniqueid, uniqueid.split(";")[0], linkedid)))


def placed_by_a_dialer(call_ids: Collection[str]) -> bool:
    """A dialerd ChannelId, of this daemon or another one on the same Asterisk."""
    return any(call_id.startswith(OWN_CALL_PREFIX) for call_id in call_ids)


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


def ignore_reason(*, enabled: bool, queue: str | None, watched: Collection[str]) -> str | None:
    """Why an inbound caller's missed call is not to be called back, or None if it is."""
    if not enabled:
        return "missed_calls.enabled is false"
    if watched and queue is not None and queue not in watched:
        return f"queue {queue!r} is not in missed_calls.queues"
    return None
