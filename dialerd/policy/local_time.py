"""The customer's local time on the lead card: one time when the number says where the
customer is, a range when it does not, the centre's time (said so) when it says nothing.

``phonenumbers`` maps a number to the zones its prefix covers: a Moscow landline to
Europe/Moscow, but a Russian mobile (+7 9xx) to every zone of the country and beyond
(Kaliningrad to Kamchatka, eleven hours apart), a US toll-free number to forty. Picking
one of them would show the operator a confident wrong time, so a card shows what is
known: the earliest and latest wall time among the candidates at that instant.

Unlike ``window.lead_zones`` (which refuses a zone missing from the tz database, since
dropping it would drop a dialing constraint), a card skips such a zone: a display must
never fail the operator's screen. Pure: ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dialerd.policy.lead_zone import zone_names

_CLOCK = "%H:%M"


class ZoneSource(StrEnum):
    """Where a card's local time comes from."""

    LEAD = "lead"  # the lead's own: its timezone, or its delivery region's (lead_zone.py)
    NUMBER = "number"  # the number names one zone
    SEVERAL = "several"  # it names several: the customer is in one of them, not known which
    CENTRE = "centre"  # it names none: the centre's zone stands in, and the card says so


@dataclass(frozen=True)
class LocalTime:
    """The customer's wall time at one instant: ``earliest`` in the candidate zone furthest
    behind UTC, ``latest`` in the one furthest ahead (the same zone when only one)."""

    earliest: datetime
    latest: datetime
    source: ZoneSource

    @property
    def known(self) -> bool:
        """One wall time: a single zone, or several that agree at this instant."""
        return self.earliest.utcoffset() == self.latest.utcoffset()


@dataclass(frozen=True)
class CustomerZone:
    """The zone(s) a customer may be in, from their number.

    ``zone``: the one zone the number names, else None. ``candidates``: the zones the
    time is read in, sorted by name (the centre's alone when the number names none).
    """

    zone: ZoneInfo | None
    candidates: tuple[ZoneInfo, ...]
    source: ZoneSource

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("candidates: at least one zone (the centre's when nothing else)")
        if (self.zone is not None) != (self.source in (ZoneSource.LEAD, ZoneSource.NUMBER)):
            raise ValueError(f"zone: set exactly when the number names one ({self.source})")

    def at(self, now: float) -> LocalTime:
        """The customer's wall time at ``now`` (epoch seconds), as a range over the candidates."""
        local = sorted(
            (datetime.fromtimestamp(now, zone) for zone in self.candidates),
            key=lambda moment: moment.utcoffset() or timedelta(0),
        )
        return LocalTime(local[0], local[-1], self.source)

    def describe(self, now: float) -> str:
        """The card's line in English: "14:05", "13:05–21:05 (zone not known from the number)",
        or "14:05 (the centre's time: the number gives no zone)".

        A page with a language catalog builds its own words from ``at(now)`` and ``source``.
        """
        local = self.at(now)
        if self.source is ZoneSource.CENTRE:
            return f"{local.earliest:{_CLOCK}} (the centre's time: the number gives no zone)"
        if local.known:
            return f"{local.earliest:{_CLOCK}}"
        return f"{local.earliest:{_CLOCK}}–{local.latest:{_CLOCK}} (zone not known from the number)"


def customer_zone(phone_e164: str, centre: ZoneInfo, own: ZoneInfo | None = None) -> CustomerZone:
    """The lead's ``own`` zone when the shop sent one (its timezone or region), else the
    zone(s) of ``phone_e164``; the centre's zone only when the number names none."""
    if own is not None:
        return CustomerZone(own, (own,), ZoneSource.LEAD)
    zones = _number_zones(phone_e164)
    if not zones:
        return CustomerZone(None, (centre,), ZoneSource.CENTRE)
    if len(zones) == 1:
        return CustomerZone(zones[0], zones, ZoneSource.NUMBER)
    return CustomerZone(None, zones, ZoneSource.SEVERAL)


def _number_zones(phone_e164: str) -> tuple[ZoneInfo, ...]:
    """The tz-database zones ``phonenumbers`` names for the number; () for none or no number."""
    try:
        number = phonenumbers.parse(phone_e164)
    except phonenumbers.NumberParseException:
        return ()
    found: list[ZoneInfo] = []
    for name in sorted(set(zone_names(number, phone_e164))):  # Kaliningrad's own, ...
        try:
            found.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # not in this system's tz database: the other candidates still stand
    return tuple(found)
