"""Money and instants as text, spelled once for each reader that depends on the spelling.

Money is kept in minor units (kopecks, cents) and leaves as a decimal string, never a
float. Instants are UTC; three spellings exist on purpose, because each is a contract:

- ``utc_iso``: ``2026-11-23T08:15:00+00:00``, the API's, ``plan``/``explain`` JSON and the
  CLI tables (README "API", tests/test_plan.py);
- ``crm_time``: ``2027-01-15T08:01:00.000Z``, the CRM webhook's (README "CRM webhook");
- ``alert_time``: ``2027-01-15T08:01:00Z``, the instants written into alert texts.

Layer 0: imports nothing of dialerd, so every layer may use it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def decimal_amount(minor: int | None) -> str | None:
    """Minor units to a decimal string ("1299.90"), as the API and the CRM webhook carry it."""
    if minor is None:
        return None
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def major_units(minor: int) -> float:
    """Minor units to major units for the reports' arithmetic (1299.9 for 129990)."""
    return minor / 100


def utc_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def utc_iso_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else utc_iso(epoch)


def crm_time(epoch: float | None) -> str | None:
    """Milliseconds and ``Z``: the receiver orders a lead's results by them."""
    if epoch is None:
        return None
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def alert_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
