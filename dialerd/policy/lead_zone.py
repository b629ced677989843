"""Which zone a lead's local hours are read in, and why (issue 15). Pure.

In this order:

1. the lead's own ``timezone`` (IANA), sent by the shop;
2. the zone of its delivery ``region`` (``regions.py``);
3. the zone its number names, only when it names exactly one: a Moscow landline
   (+7 495) is Europe/Moscow, Kaliningrad (+7 4012) Europe/Kaliningrad;
4. otherwise the centre's zone. A Russian mobile (+7 9xx) names sixteen zones, from
   Kaliningrad to Kamchatka: requiring local hours in all of them left two hours a day
   (11:00-13:00 Moscow) and moved a callback agreed for 10:05 to 11:00. The customer
   who gave the shop a mobile number and no region is most likely where the shop sells,
   and the centre's window already keeps to sane hours there.

``phonenumbers`` names one representative zone per offset, not the region's own: it gives
Kaliningrad ``Europe/Bucharest``, which keeps summer time, so in summer a Kaliningrad
number was called from 09:00 local. ``_CORRECTIONS`` replaces such zones by the region's
own (by number prefix); ``tests/policy/test_lead_zone.py`` holds every Russian single-zone
prefix to its region's real offsets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from dialerd.policy.regions import region_zone

_UNKNOWN_ZONE = "Etc/Unknown"
MAX_ZONE_NAME = 64

# E.164 prefix -> the zone phonenumbers should have named (its data, 9.0.x)
_CORRECTIONS: dict[str, str] = {
    "+740": "Europe/Kaliningrad",  # Kaliningrad: not Europe/Bucharest (UTC+2 all year, no DST)
    "+7845": "Europe/Saratov",  # Saratov region: UTC+4 since 2016, not Europe/Moscow
}


class LeadZoneSource(StrEnum):
    """Where the zone of a lead's local hours comes from."""

    TIMEZONE = "timezone"  # the lead's own timezone field
    REGION = "region"  # the zone of the lead's delivery region
    NUMBER = "number"  # the one zone its number names
    CENTRE = "centre"  # the centre's zone: the number names none, or several


@dataclass(frozen=True)
class LeadZone:
    """The zone a lead's local hours are read in, and the words that say why."""

    zone: ZoneInfo
    source: LeadZoneSource
    why: str

    def describe(self) -> str:
        """``Europe/Kaliningrad (its delivery region RU-KGD)``: for plan and explain."""
        return f"{self.zone.key} ({self.why})"


def check_timezone(name: str) -> str:
    """An IANA zone name as given, or ValueError saying why it is not one."""
    value = name.strip()
    if not value or len(value) > MAX_ZONE_NAME or not value.isascii() or not value.isprintable():
        raise ValueError(f"{name[:MAX_ZONE_NAME]!r} is not an IANA time zone such as Europe/Moscow")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not an IANA time zone such as Europe/Moscow or Asia/Yekaterinburg"
        ) from None
    return value


def zone_names(number: phonenumbers.PhoneNumber, phone_e164: str) -> list[str]:
    """The zone names ``phonenumbers`` gives the number, corrected (``_CORRECTIONS``)."""
    names = [n for n in phone_timezone.time_zones_for_number(number) if n != _UNKNOWN_ZONE]
    if len(names) == 1:
        for prefix, zone in _CORRECTIONS.items():
            if phone_e164.startswith(prefix):
                names = [zone]
    return names


@functools.lru_cache(maxsize=8192)
def number_zones(phone_e164: str) -> tuple[ZoneInfo, ...]:
    """The zones ``phonenumbers`` names for a number, corrected; () when unknown.

    A zone missing from the system's tz database raises ZoneInfoNotFoundError rather than
    silently dropping a lead's local-hours constraint.
    """
    try:
        number = phonenumbers.parse(phone_e164)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"phone_e164: cannot parse {phone_e164!r}: {exc}") from None
    return tuple(ZoneInfo(name) for name in zone_names(number, phone_e164))


@functools.lru_cache(maxsize=8192)
def lead_zone(
    phone_e164: str, timezone: str | None, region: str | None, centre: ZoneInfo
) -> LeadZone:
    """The zone of the lead's local hours (the order in the module's docstring)."""
    if timezone:
        return LeadZone(ZoneInfo(timezone), LeadZoneSource.TIMEZONE, "the lead's own timezone")
    if region:
        try:
            code, zone = region_zone(region)
        except ValueError:
            pass  # stored before the table knew it, or with a timezone: fall through
        else:
            return LeadZone(ZoneInfo(zone), LeadZoneSource.REGION, f"its delivery region {code}")
    zones = number_zones(phone_e164)
    if len(zones) == 1:
        return LeadZone(zones[0], LeadZoneSource.NUMBER, "the one zone its number names")
    why = (
        f"the centre's zone: its number names {len(zones)} zones"
        if zones
        else "the centre's zone: its number names none"
    )
    return LeadZone(centre, LeadZoneSource.CENTRE, why)
