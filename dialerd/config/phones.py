"""The ``phones`` section: the region a number without a country code is read in."""

from __future__ import annotations

import phonenumbers
from pydantic import field_validator

from dialerd.config.values import Section


class PhoneSettings(Section):
    default_region: str = "RU"

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (use an ISO 3166 code such as RU, US, DE)")
        return value.upper()
