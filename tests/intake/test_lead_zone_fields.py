"""A lead's timezone and delivery region at intake: checked at the edge, stored as one
spelling, refused naming the field (issue 15)."""

import pytest

from dialerd.config import load_config
from dialerd.intake.leads import LeadInput, LeadRejected, validate_lead

SETTINGS = load_config(None).settings
NOW = 1.8e9


def lead(**fields):
    return validate_lead(LeadInput(phone="+79161234567", **fields), SETTINGS, NOW)


def test_a_region_is_stored_as_its_iso_code_whatever_the_spelling():
    for spelling in ("RU-KGD", "ru-kgd", "Калининградская обл.", "калининградская область"):
        assert lead(region=spelling).region == "RU-KGD"
    assert lead(region="Москва").region == "RU-MOW"


def test_a_timezone_is_kept_as_sent_and_wins_over_an_unknown_region():
    checked = lead(timezone="Asia/Omsk", region="Сибирь")
    assert (checked.timezone, checked.region) == ("Asia/Omsk", "Сибирь")


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"timezone": "Mars/Base"}, "timezone", "'Mars/Base' is not an IANA time zone"),
        ({"timezone": "MSK"}, "timezone", "'MSK' is not an IANA time zone"),
        (
            {"timezone": "Europe/Moscow\r\nAction: Hangup"},
            "timezone",
            "contains a control character",
        ),
        ({"region": "RU-XXX"}, "region", "'RU-XXX': no time zone known for this region code"),
        ({"region": "Атлантида"}, "region", "'Атлантида': not a region dialerd knows"),
        ({"region": "x" * 101}, "region", "is longer than 100 characters"),
    ],
)
def test_a_bad_timezone_or_region_is_refused_naming_the_field(fields, field, reason):
    with pytest.raises(LeadRejected) as refused:
        lead(**fields)
    assert refused.value.field == field
    assert reason in refused.value.reason
