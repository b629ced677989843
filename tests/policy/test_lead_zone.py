"""The zone a lead's local hours are read in (issue 15): its own timezone, its region, its
number when it names one zone, else the centre's; and what the engine does with it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from phonenumbers.tzdata import TIMEZONE_DATA

from dialerd.config import load_config
from dialerd.policy.lead_zone import LeadZoneSource, check_timezone, lead_zone, number_zones
from dialerd.policy.local_time import customer_zone
from dialerd.policy.pick import Defer, Dial, LeadView, explain, judge
from dialerd.policy.regions import UnknownRegion, region_zone

MSK = ZoneInfo("Europe/Moscow")
MOBILE = "+79161234567"  # phonenumbers: 16 zones, Kaliningrad to Kamchatka
KALININGRAD = "+74012123456"


def policy():
    settings = load_config(
        None,
        overrides={
            "window": {"timezone": "Europe/Moscow", "open": "10:00", "close": "22:00"},
            "campaigns": {"default": {"local_hours": {"enabled": True}}},
        },
    ).settings
    return settings.policy


def moscow(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=MSK).timestamp()


def lead(phone: str, due: float, **fields) -> LeadView:
    return LeadView(
        lead_id=1,
        phone=phone,
        campaign="default",
        state="waiting",
        rank=fields.pop("rank", 0),
        attempts=0,
        received_at=due - 3600,
        due_at=due,
        deadline_at=None,
        callback_at=fields.pop("callback_at", None),
        last_outcome=None,
        close_reason=None,
        **fields,
    )


def test_a_russian_mobile_is_callable_from_the_centres_opening_not_squeezed_to_11_13():
    p = policy()
    assert len(number_zones(MOBILE)) == 16
    for clock in ("2026-11-23T10:05", "2026-11-23T15:00", "2026-11-23T21:30"):
        assert judge(lead(MOBILE, moscow(clock)), moscow(clock), p) == Dial(), clock
    decision = explain(lead(MOBILE, moscow("2026-11-23T10:05")), moscow("2026-11-23T10:05"), p)
    assert decision.callable
    assert decision.local_zone == "Europe/Moscow (the centre's zone: its number names 16 zones)"


def test_an_agreed_1005_callback_on_a_mobile_stays_at_1005():
    p = policy()
    agreed = moscow("2026-11-24T10:05")
    callback = lead(MOBILE, agreed, callback_at=agreed, rank=2)
    assert not explain(callback, agreed - 60, p).callable  # not before its time
    decision = explain(callback, agreed, p)
    assert decision.callable, decision.reason
    assert "callback agreed for 2026-11-24 10:05" in decision.reason


def test_kaliningrad_is_not_called_at_0900_local_in_summer():
    """phonenumbers says Europe/Bucharest (summer time: UTC+3 in July); Kaliningrad is UTC+2."""
    assert number_zones(KALININGRAD) == (ZoneInfo("Europe/Kaliningrad"),)
    p = policy()
    nine_local = moscow("2026-07-15T10:00")  # 09:00 in Kaliningrad
    verdict = judge(lead(KALININGRAD, nine_local), nine_local, p)
    assert isinstance(verdict, Defer)
    assert verdict.until == moscow("2026-07-15T11:00")  # 10:00 in Kaliningrad
    assert verdict.why == (
        "outside the lead's local hours until 2026-07-15 11:00 MSK (Europe/Kaliningrad)"
    )
    assert judge(lead(KALININGRAD, nine_local), moscow("2026-07-15T11:00"), p) == Dial()


def _single_zone_numbers() -> list[str]:
    """A valid number for each Russian prefix phonenumbers maps to exactly one zone."""
    found = []
    for prefix in sorted(k for k, v in TIMEZONE_DATA.items() if k.startswith("7") and len(v) == 1):
        number = f"+{prefix}{'2' * (11 - len(prefix))}"
        if len(number_zones(number)) == 1:  # "2222..." is not a valid number of every prefix
            found.append(number)
    return found


@pytest.mark.parametrize("number", _single_zone_numbers())
def test_every_single_zone_russian_prefix_maps_to_a_zone_without_summer_time(number):
    """Russia has kept no summer time since 2011: a zone with DST is phonenumbers' stand-in."""
    (zone,) = number_zones(number)
    winter, summer = datetime(2026, 1, 15, tzinfo=zone), datetime(2026, 7, 15, tzinfo=zone)
    assert winter.utcoffset() == summer.utcoffset(), zone


def test_the_card_shows_kaliningrad_time_in_summer():
    card = customer_zone(KALININGRAD, MSK)
    assert card.zone == ZoneInfo("Europe/Kaliningrad")
    assert card.describe(moscow("2026-07-15T11:00")) == "10:00"  # Bucharest would say 11:00


def test_saratov_is_utc_plus_4():
    (zone,) = number_zones("+78452123456")
    assert datetime(2026, 1, 15, tzinfo=zone).utcoffset().total_seconds() == 4 * 3600


def test_the_leads_own_timezone_wins_over_its_region_and_number():
    p = policy()
    vladivostok = lead(KALININGRAD, moscow("2026-11-23T10:05"), timezone="Asia/Vladivostok")
    decision = explain(vladivostok, moscow("2026-11-23T10:05"), p)  # 17:05 in Vladivostok
    assert decision.callable
    assert decision.local_zone == "Asia/Vladivostok (the lead's own timezone)"
    late = moscow("2026-11-23T16:00")  # 23:00 in Vladivostok
    verdict = judge(lead(MOBILE, late, timezone="Asia/Vladivostok", region="RU-MOW"), late, p)
    assert isinstance(verdict, Defer)
    assert verdict.until == moscow("2026-11-24T10:00")  # the centre opens; 17:00 there
    assert verdict.why == (
        "outside the lead's local hours until 2026-11-24 10:00 MSK (Asia/Vladivostok)"
    )


def test_a_region_names_the_zone_of_a_mobile():
    zone = lead_zone(MOBILE, None, "RU-KGD", MSK)
    assert (zone.zone.key, zone.source) == ("Europe/Kaliningrad", LeadZoneSource.REGION)
    assert zone.describe() == "Europe/Kaliningrad (its delivery region RU-KGD)"
    early = moscow("2026-11-23T10:30")  # 09:30 in Kaliningrad
    verdict = judge(lead(MOBILE, early, region="RU-KGD"), early, policy())
    assert isinstance(verdict, Defer) and verdict.until == moscow("2026-11-23T11:00")


@pytest.mark.parametrize(
    ("text", "code", "zone"),
    [
        ("RU-KGD", "RU-KGD", "Europe/Kaliningrad"),
        ("ru-sve", "RU-SVE", "Asia/Yekaterinburg"),
        ("Калининградская обл.", "RU-KGD", "Europe/Kaliningrad"),
        ("г. Москва", "RU-MOW", "Europe/Moscow"),
        ("Свердловская область", "RU-SVE", "Asia/Yekaterinburg"),
        ("Приморский край", "RU-PRI", "Asia/Vladivostok"),
        ("Республика Саха (Якутия)", "RU-SA", "Asia/Yakutsk"),
        ("Ханты-Мансийский автономный округ — Югра", "RU-KHM", "Asia/Yekaterinburg"),
        ("Саратовская область", "RU-SAR", "Europe/Saratov"),
    ],
)
def test_regions_by_code_or_russian_name(text, code, zone):
    assert region_zone(text) == (code, zone)


@pytest.mark.parametrize("text", ["RU-XXX", "KZ-ALA", "Марс", ""])
def test_an_unknown_region_says_what_to_send(text):
    with pytest.raises(UnknownRegion, match="RU-KGD"):
        region_zone(text)


def test_timezone_names_are_checked():
    assert check_timezone(" Europe/Kaliningrad ") == "Europe/Kaliningrad"
    for bad in ("Mars/Base", "UTC+3", "../../etc/passwd", ""):
        with pytest.raises(ValueError, match="IANA time zone"):
            check_timezone(bad)
