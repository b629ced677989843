"""Numbers as people read them, the same in the terminal table, the HTML report and e-mails:
41.7%, 1,299.90, 1m 05s, — for nothing to divide by. Money is written as the report's
locale writes it (CLDR's patterns, through Babel): RUB 1,299.90 in English, 1 299,90 ₽ in
Russian."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

DASH = "—"
Money = Callable[[float | None], str]  # an amount as a report writes it (``Report.money``)
NBSP = "\u00a0"
# CLDR's currency spacing: a code made of letters is kept apart from the digits ("RUB 1.00",
# "1,00 RUB"), which Babel leaves out; a symbol such as ₽ or € keeps the locale's own spacing
_CODE_THEN_DIGIT = re.compile(r"([A-Z]{3})(?=[-\d])")
_DIGIT_THEN_CODE = re.compile(r"(?<=\d)([A-Z]{3})")


def count(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def pct(share: float | None) -> str:
    """Shares are 0..1 in the model; people read one decimal of a percent."""
    return DASH if share is None else f"{share * 100:.1f}%"


def money(value: float | None, currency: str | None = None, locale: str = "en") -> str:
    """1,299.90; with a currency, as ``locale`` writes it: "RUB 1,299.90", "1 299,90 ₽"."""
    if value is None:
        return DASH
    amount = Decimal(f"{value:.2f}")  # the cents the report computed, not a float's tail
    if currency is None:
        return format_decimal(amount, "#,##0.00", locale=locale)
    text = format_currency(amount, currency, locale=locale)
    return _DIGIT_THEN_CODE.sub(NBSP + r"\1", _CODE_THEN_DIGIT.sub(r"\1" + NBSP, text))


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
