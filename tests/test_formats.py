"""The one spelling of money and instants: each wire format exactly as it was before the merge
of its seven copies (the CRM webhook's Decimal strings, the API's ``+00:00``, the ``Z`` forms)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dialerd.formats import (
    alert_time,
    crm_time,
    decimal_amount,
    major_units,
    utc_iso,
    utc_iso_or_none,
)

AMOUNTS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
EPOCHS = st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False)


@given(AMOUNTS)
def test_an_amount_is_the_decimal_string_the_crm_webhook_always_sent(minor):
    assert decimal_amount(minor) == str((Decimal(minor) / 100).quantize(Decimal("0.01")))


@given(AMOUNTS)
def test_major_units_are_the_reports_float(minor):
    assert major_units(minor) == float((Decimal(minor) / 100).quantize(Decimal("0.01")))


def test_examples_of_each_spelling():
    assert decimal_amount(129990) == "1299.90"
    assert decimal_amount(-5) == "-0.05" and decimal_amount(0) == "0.00"
    assert decimal_amount(None) is None
    at = datetime(2027, 1, 15, 8, 1, 0, 250_000, tzinfo=UTC).timestamp()
    assert utc_iso(at) == "2027-01-15T08:01:00+00:00"
    assert utc_iso_or_none(at) == "2027-01-15T08:01:00+00:00" and utc_iso_or_none(None) is None
    assert crm_time(at) == "2027-01-15T08:01:00.250Z" and crm_time(None) is None
    assert alert_time(at) == "2027-01-15T08:01:00Z"


@given(EPOCHS)
def test_the_z_forms_are_the_offset_forms_with_z(epoch):
    moment = datetime.fromtimestamp(epoch, UTC)
    assert utc_iso(epoch) == moment.isoformat(timespec="seconds")
    assert alert_time(epoch) == utc_iso(epoch).replace("+00:00", "Z")
    assert crm_time(epoch) == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
