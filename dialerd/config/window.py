"""The ``window`` section: when the centre may dial, in wall-clock hours of its zone."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Discriminator, Tag, field_validator, model_validator

from dialerd.config.rules import calling_window
from dialerd.config.values import Section, WallTime
from dialerd.policy.window import Weekday


class HoursSettings(Section):
    open: WallTime
    close: WallTime


def _day_kind(value: object) -> str | None:
    """Which of the two forms a weekday entry is, so that a mistake is reported against that
    form only (not as one error per form, in pydantic's words)."""
    if value == "closed":
        return "[closed]"
    return "[hours]" if isinstance(value, dict | HoursSettings) else None


DayHours = Annotated[
    Annotated[HoursSettings, Tag("[hours]")] | Annotated[Literal["closed"], Tag("[closed]")],
    Discriminator(
        _day_kind,
        custom_error_type="day_hours",
        custom_error_message='must be closed or hours, e.g. {open: "10:00", close: "16:00"}',
    ),
]


class WindowSettings(Section):
    """When the centre may dial: wall-clock hours in its IANA time zone."""

    timezone: str = "Europe/Moscow"
    open: WallTime = dt.time(10, 0)
    close: WallTime = dt.time(22, 0)
    days_off: list[Weekday] = []
    holidays: list[dt.date] = []
    weekdays: dict[Weekday, DayHours] = {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)"
            ) from None
        return value

    @model_validator(mode="after")
    def _buildable(self) -> WindowSettings:
        calling_window(self)  # the policy's own checks; Settings.policy builds the one used
        return self
