"""The ``phones`` section: the region a number without a country code is read in; and
``phone_limits``: how often one phone may be dialed, whatever lead or campaign it is."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import Field, field_validator

from dialerd.config.values import Section
from dialerd.policy.phone_limits import RECENT_DIALS, PhoneLimits


class PhoneSettings(Section):
    default_region: str = "RU"

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (use an ISO 3166 code such as RU, US, DE)")
        return value.upper()


class PhoneLimitSettings(Section):
    """``policy/phone_limits.py``: at most ``per_day`` dials a day (null: no daily limit),
    never two within ``min_gap_min``, over every lead and campaign of the phone."""

    per_day: Annotated[int, Field(ge=1, le=RECENT_DIALS)] | None = 3
    min_gap_min: Annotated[float, Field(ge=0, le=24 * 60)] = 5.0

    @property
    def limits(self) -> PhoneLimits:
        return PhoneLimits(per_day=self.per_day, min_gap_s=self.min_gap_min * 60.0)
