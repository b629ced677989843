import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.config import load_config
from dialerd.intake.leads import LeadInput, LeadRejected, validate_lead
from dialerd.policy.phones import InvalidPhone, parse_phone


def test_same_customer_whatever_the_formatting():
    assert parse_phone("8 (916) 123-45-67", "RU") == parse_phone("+7 916 1234567", "RU")
    assert parse_phone("8 (916) 123-45-67", "RU").e164 == "+79161234567"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("+7916123\r\n4567", "may contain only digits"),
        ("+79161234567\r\nAction: Hangup", "may contain only digits"),
        ("916abc4567", "may contain only digits"),
        ("+7916123456&SIP/evil", "may contain only digits"),
        ("", "is empty"),
        ("+7 123", "not a valid number"),
    ],
)
def test_bad_phones_are_rejected_with_the_reason(raw, reason):
    with pytest.raises(InvalidPhone, match=reason):
        parse_phone(raw, "RU")


@given(st.text(max_size=30))
def test_any_accepted_phone_is_plain_e164(raw):
    try:
        phone = parse_phone(raw, "RU")
    except InvalidPhone:
        return
    assert phone.e164.startswith("+") and phone.digits.isdigit() and 8 <= len(phone.digits) <= 15


SETTINGS = load_config(None).settings


def test_lead_fields_validated_and_amount_in_minor_units():
    lead = validate_lead(
        LeadInput(phone="89161234567", order_id=" A-1 ", name="Ann", amount="1299.90"),
        SETTINGS,
        0.0,
    )
    assert (lead.phone.e164, lead.order_id, lead.amount_minor) == ("+79161234567", "A-1", 129990)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (LeadInput(phone="+79161234567", name="Ann\r\nAction: Originate"), "name"),
        (LeadInput(phone="+79161234567", amount="12.345"), "amount"),
        (LeadInput(phone="+79161234567", amount="-1"), "amount"),
        (LeadInput(phone="+79161234567", amount="ten"), "amount"),
        (LeadInput(phone="+79161234567", order_id="x" * 65), "order_id"),
        (LeadInput(phone="not a phone"), "phone"),
        (LeadInput(phone="+79161234567", campaign="nope"), "campaign"),
        (LeadInput(phone="+79161234567", callback_at=-5.0), "callback_at"),
    ],
)
def test_rejected_lead_names_the_field(raw, field):
    with pytest.raises(LeadRejected) as err:
        validate_lead(raw, SETTINGS, 0.0)
    assert err.value.field == field


@given(
    st.one_of(
        st.from_regex(r"\A[0-9]{1,14}(\.[0-9]{0,3})?\Z"),
        st.decimals(min_value=0, max_value=10**13, places=2).map(str),
        st.text(alphabet="0123456789.,+-eE ", max_size=16),
    )
)
def test_an_amount_is_read_as_decimal_reads_it(text):
    """Plain amounts ("1299.90") skip Decimal for speed; every amount must still be stored,
    or refused, exactly as reading it with Decimal does."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
        ok = value.is_finite() and 0 <= value <= Decimal("1e12") and (value * 100) % 1 == 0
        expected = int(value * 100) if ok else "refused"
    except InvalidOperation:
        expected = None if text == "" else "refused"
    try:
        lead = validate_lead(LeadInput(phone="+79161234567", amount=text), SETTINGS, 0)
        stored = lead.amount_minor
    except LeadRejected as exc:
        assert exc.field == "amount"
        stored = "refused"
    assert stored == expected
