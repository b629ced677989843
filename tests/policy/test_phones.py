"""The fast path for "+<digits>" phones must normalise exactly as phonenumbers.parse does."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.policy import phones
from dialerd.policy.phones import InvalidPhone, parse_phone


def reference(text: str, region: str) -> str:
    """phonenumbers alone: E.164, or 'invalid'."""
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_valid_number(number):
        return "invalid"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ours(text: str, region: str) -> str:
    try:
        return parse_phone(text, region).e164
    except InvalidPhone:
        return "invalid"


EXAMPLES = sorted(
    {
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        if (number := phonenumbers.example_number_for_type(region, kind)) is not None
    }
)


@pytest.mark.parametrize("region", ["RU", "US", "DE"])
def test_every_regions_example_numbers_agree(region):
    taken = 0
    for e164 in EXAMPLES:
        assert ours(e164, region) == reference(e164, region), e164
        taken += phones._international(e164) is not None
    assert taken > len(EXAMPLES) // 2  # the fast path is really used


def test_national_prefix_after_the_country_code_is_left_to_phonenumbers():
    # parse strips the Russian trunk prefix 8 even after +7; the fast path must not guess
    assert phones._international("+7 8 916 123 45 67") is None
    assert ours("+7 8 916 123 45 67", "RU") == reference("+7 8 916 123 45 67", "RU")


digits = st.text(alphabet="0123456789", min_size=1, max_size=16)
separator = st.sampled_from(["", " ", "-", "(", ")", ".", "\u00a0"])


@settings(max_examples=1500, deadline=None)
@given(
    head=st.sampled_from(["+7", "+1", "+44", "+49", "+39", "+380", "+86", "+55", "+54", "+"]),
    body=st.lists(st.tuples(separator, digits), min_size=1, max_size=4),
    region=st.sampled_from(["RU", "US", "IT"]),
)
def test_any_plus_number_agrees_with_phonenumbers(head, body, region):
    text = head + "".join(sep + part for sep, part in body)
    if len(text) > 40:
        return
    assert ours(text, region) == reference(text, region)


def test_a_remembered_phone_never_answers_for_another_region():
    phones._normalised.cache_clear()
    national = {"RU": "+79161234567", "US": "invalid", "GB": "invalid"}
    for order in (["RU", "US", "GB"], ["GB", "US", "RU"]):
        for region in order:
            assert ours("8 916 123-45-67", region) == national[region]
            assert ours("8 916 123-45-67", region) == reference("8 916 123-45-67", region)
    assert ours("020 7946 0018", "GB") == "+442079460018"
    assert ours("020 7946 0018", "RU") == "invalid"


def test_a_repeated_phone_is_validated_once_with_the_same_answer_and_reason():
    phones._normalised.cache_clear()
    first = parse_phone(" +7 916 123-45-67 ", "RU")
    assert parse_phone("+7 916 123-45-67", "RU") is first  # the same text once stripped
    for _ in range(2):
        with pytest.raises(InvalidPhone, match="^is not a valid number for its country$"):
            parse_phone("+7 000", "RU")
        with pytest.raises(InvalidPhone, match=r"^is not a phone number \("):
            parse_phone("+", "RU")
    info = phones._normalised.cache_info()
    assert (info.misses, info.hits) == (3, 3)
