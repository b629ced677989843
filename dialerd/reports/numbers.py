"""Numbers as people read them, the same in the terminal table, the HTML report and e-mails:
41.7%, 1,299.90, 1m 05s, — for nothing to divide by."""

from __future__ import annotations

from collections.abc import Mapping

DASH = "—"


def count(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def pct(share: float | None) -> str:
    """Shares are 0..1 in the model; people read one decimal of a percent."""
    return DASH if share is None else f"{share * 100:.1f}%"


def money(value: float | None) -> str:
    return DASH if value is None else f"{value:,.2f}"


def duration(seconds: float | None) -> str:
    """45s, 1m 05s, 2m, 2h 03m: the units a person would say, never a bare count of seconds."""
    if seconds is None:
        return DASH
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s" if whole % 60 else f"{whole // 60}m"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def decimal(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"


def durations(by_name: Mapping[str, float]) -> str:
    """``lunch 30m, break 5m``: durations by name (paused time by reason), longest first."""
    ordered = sorted(by_name.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {duration(seconds)}" for name, seconds in ordered) or DASH
