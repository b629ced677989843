"""Phone numbers: parse anything a shop's web form sends, keep only valid E.164.

``8 (916) 123-45-67`` and ``+7 916 1234567`` are the same customer (R1). Once a
value is a ``Phone``, it is digits behind a '+', so it is safe in a dial string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

# Characters people type around numbers; anything else (letters, CR/LF, dialplan
# syntax such as '&', '@', '/', ',') makes the input invalid rather than "cleaned".
_ALLOWED = re.compile(r"^[0-9+()\-. \u00a0]+$")
_MAX_INPUT = 40
_SEPARATORS = re.compile(r"[ ()\-.\u00a0]")
_PLUS_DIGITS = re.compile(r"^\+([1-9][0-9]{5,16})$")

# phonenumbers compiles its metadata patterns through ``re``'s bounded cache on every
# check (a third of a validation's cost); this keeps them compiled, once, process-wide.
# Releases without the switch only validate slower.
if (_keep_patterns := getattr(phonenumbers, "enable_pattern_cache", None)) is not None:
    _keep_patterns()


class InvalidPhone(ValueError):
    """The reason a phone was refused, ready to show to the sender."""


@dataclass(frozen=True, order=True)
class Phone:
    e164: str  # "+79161234567"

    @property
    def digits(self) -> str:
        """E.164 without '+', the form dial strings and dialplans expect."""
        return self.e164[1:]

    def __str__(self) -> str:
        return self.e164


def parse_phone(raw: str, default_region: str) -> Phone:
    """Normalise ``raw`` to E.164 or raise InvalidPhone with the reason."""
    if not isinstance(raw, str):
        raise InvalidPhone("must be a string")
    text = raw.strip()
    if not text:
        raise InvalidPhone("is empty")
    if len(text) > _MAX_INPUT:
        raise InvalidPhone(f"is longer than {_MAX_INPUT} characters")
    if not _ALLOWED.match(text):
        raise InvalidPhone("may contain only digits, spaces, '+', '-', '.', '(' and ')'")
    found = _normalised(text, default_region)
    if isinstance(found, str):
        raise InvalidPhone(found)
    return found


@functools.lru_cache(maxsize=4096)
def _normalised(text: str, default_region: str) -> Phone | str:
    """The Phone, or the reason it is refused; remembered per (text, region).

    Validity is the costly half of intake (phonenumbers' regular expressions), and the
    same phone comes back often: double submits, a batch with a customer's two orders,
    a CSV with repeats. The result depends only on the text and the default region (the
    number metadata is fixed for the process), so both are the key; the text is at most
    ``_MAX_INPUT`` characters of ``_ALLOWED`` by now, which bounds the cache's size.
    """
    number = _international(text)
    try:
        if number is None or not is_valid(number):
            number = _parse(text, default_region)  # the general path decides
            if not is_valid(number):
                return "is not a valid number for its country"
    except InvalidPhone as exc:
        return str(exc)
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _parse(text: str, default_region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"is not a phone number ({exc._msg})") from None


def _international(text: str) -> phonenumbers.PhoneNumber | None:
    """The number ``phonenumbers.parse`` would return for a "+<country code><number>" input.

    About twice as fast (the API's batch intake parses thousands a second); None
    wherever parse could differ, so the caller falls back to it: no known country
    code, a leading zero (Italian numbers keep it), or digits that start like the
    country's national prefix (parse may strip it). tests/policy/test_phones.py
    checks the two paths agree.
    """
    match = _PLUS_DIGITS.match(_SEPARATORS.sub("", text))
    if match is None:
        return None
    digits = match.group(1)
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if len(national) < 2 or national[0] == "0":
        return None
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))


# A number description as validity needs it: possible lengths (None: any) and pattern.
_Desc = tuple[frozenset[int] | None, re.Pattern[str]]
# A region's descriptions: the general one, then every type's, in phonenumbers' order.
_Rules = tuple[_Desc | None, tuple[_Desc, ...]]


def is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number``, with each region's patterns gathered once.

    The library walks up to eleven number descriptions per check, through three call
    layers each, re-fetching each pattern; this tests the same descriptions with the
    same length and full-match rules, from lists built once per region: about half
    the cost of a new phone at intake. tests/policy/test_phones.py checks it agrees
    with is_valid_number.
    """
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code)
    if regions is None:
        return False
    nsn = phonenumbers.national_significant_number(number)
    region: str | None = regions[0]
    if len(regions) > 1:
        region = _region_of(nsn, regions)
    if region is None:
        return False
    rules = _rules_for(number.country_code, region)
    return rules is not None and _matches(nsn, rules)


def _region_of(nsn: str, regions: tuple[str, ...]) -> str | None:
    """The region of a number whose country code several regions share (as the library)."""
    for region in regions:
        found = _region_rules(region)
        if found is None:
            continue
        leading, rules = found
        if leading is not None:
            if leading.match(nsn):
                return region
        elif _matches(nsn, rules):
            return region
    return None


def _matches(nsn: str, rules: _Rules) -> bool:
    general, types = rules
    if general is None or not _fits(nsn, general):
        return False
    return any(_fits(nsn, desc) for desc in types)


def _fits(nsn: str, desc: _Desc) -> bool:
    lengths, pattern = desc
    return (lengths is None or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


@functools.cache
def _region_rules(region: str) -> tuple[re.Pattern[str] | None, _Rules] | None:
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None
    leading = metadata.leading_digits
    return (re.compile(leading) if leading is not None else None), _rules(metadata)


@functools.cache
def _rules_for(country_code: int, region: str) -> _Rules | None:
    """The rules ``is_valid_number_for_region`` applies; None where it answers False."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None or (
        region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
        and country_code != phonenumbers.country_code_for_valid_region(region)
    ):
        return None
    return _rules(metadata)


def _rules(metadata: PhoneMetadata) -> _Rules:
    """The descriptions ``_number_type_helper`` tries; any match makes a type, so valid."""
    kinds = [
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
        metadata.fixed_line,
    ]
    if not metadata.same_mobile_and_fixed_line_pattern:
        kinds.append(metadata.mobile)
    types = tuple(desc for kind in kinds if (desc := _desc(kind)) is not None)
    return _desc(metadata.general_desc), types


def _desc(desc: PhoneNumberDesc | None) -> _Desc | None:
    """None for a description that never matches (absent, or without a pattern)."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(desc.possible_length) if desc.possible_length else None
    return lengths, re.compile(desc.national_number_pattern)
