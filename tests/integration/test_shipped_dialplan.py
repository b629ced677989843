"""The dialplan in ``config/asterisk/`` as a real Asterisk 22 loads it (asterisklint is a linter)."""

import pytest
from support.asterisk import AsteriskInstance

from dialerd.config import DialingSettings

pytestmark = pytest.mark.asterisk


def test_the_default_destination_of_an_answered_call_is_loaded(asterisk: AsteriskInstance):
    defaults = DialingSettings()
    shown = asterisk.cli(f"dialplan show {defaults.exten}@{defaults.context}")
    assert "Goto(operators,600,1)" in shown, shown
    assert "Queue(sales,r,,,60)" in asterisk.cli("dialplan show 600@operators")
