"""The customer's local time on the lead card: one time when the number says where, a range
when it does not, the centre's time (said so) when it says nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from dialerd.policy.local_time import CustomerZone, ZoneSource, customer_zone

CENTRE = ZoneInfo("Europe/Moscow")
# 2026-03-10 11:05 UTC: Moscow 14:05 (UTC+3, no DST), Warsaw 12:05 (CET)
NOW = datetime(2026, 3, 10, 11, 5, tzinfo=UTC).timestamp()

# Real numbers of every kind and country phonenumbers knows: the shapes a store holds.
EXAMPLES = sorted(
    phonenumbers.format_number(number, PhoneNumberFormat.E164)
    for region in phonenumbers.SUPPORTED_REGIONS
    for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE)
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
)
instants = st.floats(
    min_value=datetime(2000, 1, 1, tzinfo=UTC).timestamp(),
    max_value=datetime(2040, 1, 1, tzinfo=UTC).timestamp(),
)
centres = st.sampled_from(["Europe/Moscow", "Europe/Warsaw", "America/New_York", "UTC"]).map(
    ZoneInfo
)


def test_a_moscow_landline_is_in_moscow_and_shows_one_time():
    zone = customer_zone("+74951234567", CENTRE)
    assert (zone.zone, zone.source) == (ZoneInfo("Europe/Moscow"), ZoneSource.NUMBER)
    assert zone.describe(NOW) == "14:05"


def test_a_polish_number_shows_warsaw_time_whatever_the_centre():
    zone = customer_zone("+48221234567", CENTRE)
    assert zone.zone == ZoneInfo("Europe/Warsaw")
    assert zone.describe(NOW) == "12:05"


def test_a_russian_mobile_could_be_anywhere_so_the_card_shows_the_range():
    zone = customer_zone("+79161234567", CENTRE)
    assert zone.zone is None and zone.source is ZoneSource.SEVERAL
    names = {candidate.key for candidate in zone.candidates}
    assert {"Europe/Moscow", "Asia/Vladivostok", "Asia/Kamchatka"} <= names
    local = zone.at(NOW)
    assert not local.known
    # the westernmost candidate phonenumbers gives is UTC+2, the easternmost UTC+12
    assert zone.describe(NOW) == "13:05–23:05 (zone not known from the number)"


def test_a_number_naming_no_zone_shows_the_centres_time_and_says_so():
    zone = customer_zone("+80012345678", CENTRE)  # international freephone: no country
    assert (zone.zone, zone.candidates, zone.source) == (None, (CENTRE,), ZoneSource.CENTRE)
    assert zone.describe(NOW) == "14:05 (the centre's time: the number gives no zone)"


def test_dst_moves_the_time_by_the_zone_not_by_a_fixed_offset():
    warsaw = customer_zone("+48221234567", CENTRE)
    summer = datetime(2026, 7, 10, 11, 5, tzinfo=UTC).timestamp()
    assert (warsaw.describe(NOW), warsaw.describe(summer)) == ("12:05", "13:05")


def test_a_zone_is_set_exactly_when_the_number_names_one():
    with pytest.raises(ValueError, match="zone"):
        CustomerZone(None, (CENTRE,), ZoneSource.NUMBER)
    with pytest.raises(ValueError, match="candidates"):
        CustomerZone(None, (), ZoneSource.SEVERAL)


@given(phone=st.sampled_from(EXAMPLES), now=instants, centre=centres)
def test_every_candidates_time_lies_in_the_range_the_card_shows(phone, now, centre):
    zone = customer_zone(phone, centre)
    local = zone.at(now)
    walls = [datetime.fromtimestamp(now, c).replace(tzinfo=None) for c in zone.candidates]
    assert local.earliest.replace(tzinfo=None) == min(walls)
    assert local.latest.replace(tzinfo=None) == max(walls)
    text = zone.describe(now)
    if local.known:
        assert text.startswith(f"{local.earliest:%H:%M}")
        assert "–" not in text
    else:
        assert text == (
            f"{local.earliest:%H:%M}–{local.latest:%H:%M} (zone not known from the number)"
        )


@given(phone=st.sampled_from(EXAMPLES), centre=centres)
def test_the_centre_stands_in_only_when_the_number_names_no_zone(phone, centre):
    zone = customer_zone(phone, centre)
    named = set(phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(phone)))
    named.discard(phonenumbers.timezone.UNKNOWN_TIMEZONE)
    assert {c.key for c in zone.candidates} == (named or {centre.key})
    assert (zone.source is ZoneSource.CENTRE) == (not named)
    assert (zone.zone is not None) == (len(named) == 1)


@given(text=st.text(max_size=20), now=instants)
def test_any_text_gives_a_time_never_an_error(text, now):
    assert customer_zone(text, CENTRE).describe(now)
