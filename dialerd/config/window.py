"""The ``window`` section: when the centre may dial (R6), in wall-clock hours of its zone."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator, model_validator

from dialerd.config.rules import calling_window
from dialerd.config.values import Section, WallTime
from dialerd.policy.window import Weekday


class HoursSettings(Section):
    open: WallTime
    close: WallTime


class WindowSettings(Section):
    """When the centre may dial (R6): wall-clock hours in its IANA time zone."""

    timezone: str = "Europe/Moscow"
    open: WallTime = dt.time(10, 0)
    close: WallTime = dt.time(22, 0)
    days_off: list[Weekday] = []
    holidays: list[dt.date] = []
    weekdays: dict[Weekday, HoursSettings | Literal["closed"]] = {}

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
